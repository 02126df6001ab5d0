package kube

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tetherplug/tether"
)

// NoEndpointsError says a plugin's Service has no ready endpoint to call:
// its Deployment is scaled to 0 replicas, or none of its pods is listed
// ready in the Service's EndpointSlices. Returned wrapped in a
// *tether.PluginError of kind tether.ErrUnavailable (tether.ErrStartTimeout
// when Open waited for replicas that were ready but never listed).
type NoEndpointsError struct {
	Service, Namespace string
	// Ready and Desired are the Deployment's replicas as last seen;
	// Desired is -1 when they are not known (the error of a call).
	Ready, Desired int32
}

// Error says the Service has no ready endpoints, and why when it is known.
func (e *NoEndpointsError) Error() string {
	s := fmt.Sprintf("the Service %s in namespace %s has no ready endpoints", e.Service, e.Namespace)
	switch {
	case e.Desired < 0:
		return s
	case e.Desired == 0:
		return s + ": its Deployment is scaled to 0 replicas"
	}
	return s + fmt.Sprintf(" (its Deployment has %d of %d replicas ready)", e.Ready, e.Desired)
}

// UnreachableError says the plugin's pods are ready but the host cannot
// connect to their IPs: it runs outside the cluster's pod network (a
// laptop, a CI runner). WithPortForward reaches them through the API
// server instead. Returned wrapped in a *tether.PluginError of kind
// tether.ErrHost.
type UnreachableError struct {
	Addresses []string // the pod addresses tried
	Err       error    // the dial error of the first
}

// Error says pod IPs are not reachable, and how the first dial failed.
func (e *UnreachableError) Error() string {
	return fmt.Sprintf("pod IPs are not reachable from here (%s): the host is outside the cluster's pod network; "+
		"reach the pods through the API server's port-forward with kube.WithPortForward() (tether inspect|call --port-forward): %v",
		strings.Join(e.Addresses, ", "), e.Err)
}

// Unwrap returns the dial error.
func (e *UnreachableError) Unwrap() error { return e.Err }

// PodDialTimeout bounds the dial with which Open checks that the host can
// reach the plugin's pod IPs.
const PodDialTimeout = 5 * time.Second

// maxProbed is how many pod addresses that check dials at once.
const maxProbed = 3

// reachable checks, before Open waits for an instance to answer, that the
// Service lists ready endpoints (at once when the Deployment is scaled to
// 0; else waiting up to timeout for one, which is all an attach needs: a
// rollout under way or stuck still has its old pods serving) and that the
// host can connect to them.
func (r *runtime) reachable(ctx context.Context, d *appsv1.Deployment, timeout time.Duration) error {
	if len(r.follow.addresses()) == 0 {
		e := &NoEndpointsError{Service: r.name, Namespace: r.ns, Ready: d.Status.ReadyReplicas, Desired: desired(d)}
		if e.Desired == 0 {
			return &tether.PluginError{Plugin: r.name, Kind: tether.ErrUnavailable, Err: e}
		}
		wctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		if !r.follow.waitAddresses(wctx) {
			return r.notServing(ctx, d, timeout, e)
		}
	}
	if r.pf != nil {
		return r.pf.probe(ctx, r.follow.addresses())
	}
	return probePods(ctx, r.name, r.follow.addresses())
}

// notServing says why no endpoint was listed ready within timeout: the
// replicas the Deployment counts ready were not listed, or none was ready,
// and then why not (a *NotReadyError from the Deployment as it is now).
func (r *runtime) notServing(ctx context.Context, d *appsv1.Deployment, timeout time.Duration, e *NoEndpointsError) error {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if now, err := r.c.AppsV1().Deployments(r.ns).Get(dctx, r.name, metav1.GetOptions{}); err == nil {
		d = now
	}
	if d.Status.ReadyReplicas > 0 {
		e.Ready, e.Desired = d.Status.ReadyReplicas, desired(d)
		return &tether.PluginError{Plugin: r.name, Kind: tether.ErrStartTimeout,
			Detail: "replicas are ready but the Service's EndpointSlices listed none in time", Err: e}
	}
	return &tether.PluginError{Plugin: r.name, Kind: tether.ErrStartTimeout,
		Detail: fmt.Sprintf("no replica was ready within %v", timeout), Err: diagnose(dctx, r.c, d)}
}

// probePods dials up to maxProbed of addrs at once: when none connects and
// every dial found no route or timed out, the host cannot reach pod IPs.
// Any other outcome (a refused connection says the address is reachable)
// is left to the client's own connections to explain.
func probePods(ctx context.Context, plugin string, addrs []string) error {
	addrs = addrs[:min(len(addrs), maxProbed)]
	dctx, cancel := context.WithTimeout(ctx, PodDialTimeout)
	defer cancel()
	errs := make(chan error, len(addrs))
	for _, a := range addrs {
		go func() {
			var d net.Dialer
			conn, err := d.DialContext(dctx, "tcp", a)
			if err == nil {
				_ = conn.Close()
			}
			errs <- err
		}()
	}
	var first error
	for range addrs {
		err := <-errs
		if err == nil || !unroutable(err) || ctx.Err() != nil {
			return nil
		}
		if first == nil {
			first = err
		}
	}
	return &tether.PluginError{Plugin: plugin, Kind: tether.ErrHost, Err: &UnreachableError{Addresses: addrs, Err: first}}
}

// unroutable reports a dial error that says the address cannot be reached
// from here: no route to the host or its network, a connection this host
// may not make (EACCES, EPERM: a local firewall rule or a sandbox such as
// Landlock), or no answer in time.
func unroutable(err error) bool {
	var ne net.Error
	return errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) ||
		errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM) ||
		errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

var _ tether.UnavailableExplainer = (*runtime)(nil)

// Unavailable says, when a call finds no instance, that the Service lists
// no ready endpoint, if that is why (tether.UnavailableExplainer); nil
// otherwise.
func (r *runtime) Unavailable() error {
	if len(r.follow.addresses()) > 0 {
		return nil
	}
	return &NoEndpointsError{Service: r.name, Namespace: r.ns, Desired: -1}
}
