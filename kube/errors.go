package kube

import (
	"context"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"

	"github.com/tetherplug/tether"
)

// FieldError is a spec that cannot be deployed: Field names the part at
// fault ("spec.port", "deployment.spec.selector"). Returned wrapped in a
// *tether.PluginError of kind tether.ErrBadTarget, before anything is
// created.
type FieldError struct {
	Field  string
	Reason string
	Err    error // the underlying cause, if any
}

// Error names the field and what is wrong with it.
func (e *FieldError) Error() string {
	s := e.Field + ": " + e.Reason
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying cause.
func (e *FieldError) Unwrap() error { return e.Err }

// APIError is a request the API server refused or failed: Verb ("create"),
// Resource ("deployments.apps"), Name (the object, empty for a list) and
// Namespace say which. Err is the client-go error, so apierrors.IsForbidden
// and the like still answer.
type APIError struct {
	Verb, Resource, Name, Namespace string
	Err                             error
}

// Error says which request failed and why, in the API server's terms: which
// verb the account may not use, which object already exists or is missing.
func (e *APIError) Error() string {
	where := e.Resource + " in namespace " + e.Namespace
	if e.Name != "" {
		where = fmt.Sprintf("%s %q in namespace %s", e.Resource, e.Name, e.Namespace)
	}
	switch {
	case apierrors.IsForbidden(e.Err):
		return fmt.Sprintf("may not %s %s: the service account or user lacks `%s` on %s (%v)",
			e.Verb, where, e.Verb, e.Resource, e.Err)
	case apierrors.IsUnauthorized(e.Err):
		return fmt.Sprintf("cannot %s %s: the API server does not accept the credentials (%v)", e.Verb, where, e.Err)
	case apierrors.IsAlreadyExists(e.Err):
		return fmt.Sprintf("cannot %s %s: it already exists", e.Verb, where)
	case apierrors.IsNotFound(e.Err):
		return fmt.Sprintf("cannot %s %s: not found (%v)", e.Verb, where, e.Err)
	case apierrors.IsInvalid(e.Err):
		return fmt.Sprintf("cannot %s %s: the API server refused it as invalid (%v)", e.Verb, where, e.Err)
	}
	if _, ok := e.Err.(apierrors.APIStatus); !ok {
		return fmt.Sprintf("cannot %s %s: the API server did not answer (%v)", e.Verb, where, e.Err)
	}
	return fmt.Sprintf("cannot %s %s: %v", e.Verb, where, e.Err)
}

// Unwrap returns the client-go error.
func (e *APIError) Unwrap() error { return e.Err }

// badField is the error of a spec that fails validation.
func badField(plugin, field, reason string, err error) error {
	return &tether.PluginError{Plugin: plugin, Kind: tether.ErrBadTarget,
		Err: &FieldError{Field: field, Reason: reason, Err: err}}
}

// apiFailure wraps an API error of a request on resource (object name, or
// all of them when name is empty) in a *tether.PluginError whose kind says
// whose the problem is: an object that already exists, or is invalid, or a
// namespace that does not exist is the target's (tether.ErrBadTarget);
// missing permissions, refused credentials and an API server that fails or
// does not answer are the host's (tether.ErrHost). None is
// tether.ErrUnavailable: that says the plugin's instances cannot take
// calls, which an API failure does not tell.
func apiFailure(plugin, verb, resource, name, ns string, err error) error {
	kind := tether.ErrHost
	if apierrors.IsAlreadyExists(err) || apierrors.IsInvalid(err) || apierrors.IsNotFound(err) {
		kind = tether.ErrBadTarget
	}
	return &tether.PluginError{Plugin: plugin, Kind: kind,
		Err: &APIError{Verb: verb, Resource: resource, Name: name, Namespace: ns, Err: err}}
}

// Backoff is how API requests that failed retryably are repeated: 5
// attempts, 100 ms apart at first, doubling, with 10% jitter.
var Backoff = wait.Backoff{Steps: 5, Duration: 100 * time.Millisecond, Factor: 2, Jitter: 0.1}

// Retryable reports whether an API error may go away on its own: a
// conflict, a server timeout, throttling, an internal error or an
// unavailable server.
func Retryable(err error) bool {
	return apierrors.IsConflict(err) || apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) ||
		apierrors.IsTooManyRequests(err) || apierrors.IsInternalError(err) ||
		apierrors.IsServiceUnavailable(err) || apierrors.IsUnexpectedServerError(err)
}

// withRetry runs fn until it succeeds, fails for good, Backoff runs out,
// or ctx ends.
func withRetry(ctx context.Context, fn func() error) error {
	return retry.OnError(Backoff, func(err error) bool { return ctx.Err() == nil && Retryable(err) }, fn)
}

// lastLines keeps the last n lines of s, for an error.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// isNotFound reports whether err is the API's NotFound.
func isNotFound(err error) bool { return apierrors.IsNotFound(err) }
