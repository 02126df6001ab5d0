package tether_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/tetherplug/tether"
)

// TestWithRetryRefusesBadPolicies: a retry policy gRPC would reject or
// silently change fails Open with ErrBadTarget naming what is wrong,
// before anything is started.
func TestWithRetryRefusesBadPolicies(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opt    tether.Option
		reason string
	}{
		{"no method", tether.WithRetry(tether.RetryPolicy{}), "names no method"},
		{"bad name", tether.WithRetry(tether.RetryPolicy{}, "a/b/c"), `"a/b/c" is not a service`},
		{"one attempt", tether.WithRetry(tether.RetryPolicy{MaxAttempts: 1}, "x.Y"), "MaxAttempts 1"},
		{"six attempts", tether.WithRetry(tether.RetryPolicy{MaxAttempts: 6}, "x.Y"), "MaxAttempts 6"},
		{"backoff", tether.WithRetry(tether.RetryPolicy{InitialBackoff: time.Second, MaxBackoff: time.Millisecond}, "x.Y"), "backoff"},
		{"code OK", tether.WithRetry(tether.RetryPolicy{RetryableCodes: []codes.Code{codes.OK}}, "x.Y"), "OK is not a retryable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tether.Open(t.Context(), "./no-such-plugin", tc.opt)
			if !errors.Is(err, tether.ErrBadTarget) || !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("Open: %v, want ErrBadTarget saying %q", err, tc.reason)
			}
		})
	}
}
