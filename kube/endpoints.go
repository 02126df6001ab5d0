package kube

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/tetherplug/tether"
)

// follower follows the EndpointSlices of one Service through the shared
// informer of its namespace (sliceInformer) and reports the addresses of
// its usable endpoints (usableAddresses), all slices merged, each time
// they change.
type follower struct {
	shared   *sliceInformer
	reg      cache.ResourceEventHandlerRegistration
	ns, name string
	port     int32
	report   func(addrs []string)
	log      *slog.Logger
	mu       sync.Mutex
	last     []string
	changed  chan struct{} // signalled (not closed) after each change of last
	closed   sync.Once
}

// endpointSlices is the resource the follower lists and watches, as the
// API server and RBAC name it.
const endpointSlices = "endpointslices.discovery.k8s.io"

// follow starts following Service name's slices in ns; report gets every
// new set of "ip:port" addresses, sorted. It returns once the slices are
// listed and cached, or with an error naming the verb (list or watch) the
// account may not use, or, when ctx ends first, the request that kept
// failing. The informer is shared with every follower of ns through c.
func follow(ctx context.Context, c kubernetes.Interface, ns, name string, port int32, report func([]string), log *slog.Logger) (*follower, error) {
	f := &follower{ns: ns, name: name, port: port, report: report, log: log, last: []string{},
		changed: make(chan struct{}, 1), shared: acquireSlices(c, ns)}
	// An informer that has synced proved the client may list and watch
	// the namespace's slices; a new one is checked first.
	if !f.shared.informer.HasSynced() {
		if err := mayFollow(ctx, c, ns, name, labelServiceName+"="+name); err != nil {
			f.shared.release()
			return nil, err
		}
	}
	var err error
	if f.reg, err = f.shared.join(f); err != nil { // only when the informer stopped, which f's reference prevents
		f.close()
		return nil, err
	}
	if err := f.synced(ctx); err != nil {
		f.close()
		return nil, err
	}
	return f, nil
}

// mayFollow lists and starts a watch of the slices once, so that a Role
// without list or watch fails here, at once, naming the verb (the informer
// would retry either for ever, and a forbidden watch after its first list
// would leave the endpoints frozen).
func mayFollow(ctx context.Context, c kubernetes.Interface, ns, name, sel string) error {
	api := c.DiscoveryV1().EndpointSlices(ns)
	verb, err := listThenWatch(ctx, func() (string, error) {
		list, err := api.List(ctx, metav1.ListOptions{LabelSelector: sel, Limit: 1})
		if err != nil {
			return "", err
		}
		return list.ResourceVersion, nil
	}, func(o metav1.ListOptions) (watch.Interface, error) {
		o.LabelSelector = sel
		return api.Watch(ctx, o)
	})
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return notListed(ctx, name, ns, err)
	}
	return apiFailure(name, verb, endpointSlices, "", ns, err)
}

// listThenWatch lists (list returns the list's resourceVersion), then
// starts a watch from there and stops it at once, retrying what may go
// away on its own, so that an account that may not use either verb fails
// now rather than in an informer that retries for ever. It returns the
// verb of the request that failed.
func listThenWatch(ctx context.Context, list func() (string, error), watchFrom func(metav1.ListOptions) (watch.Interface, error)) (string, error) {
	var verb string
	err := withRetry(ctx, func() error {
		verb = "list"
		rv, err := list()
		if err != nil {
			return err
		}
		verb = "watch"
		w, err := watchFrom(metav1.ListOptions{ResourceVersion: rv})
		if err != nil {
			return err
		}
		w.Stop()
		return nil
	})
	return verb, err
}

// synced waits until the informer has listed the slices and handed them
// to f.
func (f *follower) synced(ctx context.Context) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !f.reg.HasSynced() {
		select {
		case <-ctx.Done():
			return notListed(ctx, f.name, f.ns, f.shared.lastError())
		case <-f.shared.denied:
			// mayFollow's list succeeded: it is the watch that is forbidden.
			return apiFailure(f.name, "watch", endpointSlices, "", f.ns, f.shared.lastError())
		case <-tick.C:
		}
	}
	f.update()
	return nil
}

// notListed is the error of a wait for the slices that ctx ended: the
// start timeout, with the request that kept failing if one did.
func notListed(ctx context.Context, name, ns string, last error) error {
	e := &tether.PluginError{Plugin: name, Kind: tether.ErrStartTimeout,
		Detail: "the Service's EndpointSlices were not listed in time", Err: context.Cause(ctx)}
	if last != nil && !errors.Is(last, context.Canceled) && !errors.Is(last, context.DeadlineExceeded) {
		e.Err = &APIError{Verb: "list", Resource: endpointSlices, Namespace: ns, Err: last}
	}
	return e
}

// update recomputes the set and reports it if it changed.
func (f *follower) update() {
	addrs := usableAddresses(f.shared.slices(f.name), f.port)
	f.mu.Lock()
	defer f.mu.Unlock()
	if slices.Equal(addrs, f.last) {
		return
	}
	f.last = addrs
	f.report(addrs)
	select {
	case f.changed <- struct{}{}:
	default:
	}
}

// addresses is the current set of ready addresses.
func (f *follower) addresses() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}

// waitAddresses waits until some endpoint is ready, or ctx ends (false).
func (f *follower) waitAddresses(ctx context.Context) bool {
	for len(f.addresses()) == 0 {
		select {
		case <-ctx.Done():
			return false
		case <-f.changed:
		}
	}
	return true
}

// close stops following; the namespace's informer stops with its last
// follower.
func (f *follower) close() {
	f.closed.Do(func() {
		f.shared.leave(f, f.reg)
		f.shared.release()
	})
}

// readyAddresses merges slices into the sorted, deduplicated "ip:port" of
// their ready endpoints. An endpoint is ready unless its Ready condition
// says false (nil means unknown, which the API says to take as ready); a
// terminating one is not. The port is the slice's port numbered port, or
// its only port.
func readyAddresses(list []*discoveryv1.EndpointSlice, port int32) []string {
	return sliceAddresses(list, port, func(c discoveryv1.EndpointConditions) bool {
		return (c.Ready == nil || *c.Ready) && (c.Terminating == nil || !*c.Terminating)
	})
}

// usableAddresses are the ready addresses or, when no endpoint is ready,
// those of the endpoints that are terminating but still serving (a pod
// draining during a rollout or a deletion still answers): the API's
// guidance for consumers, as kube-proxy follows it.
func usableAddresses(list []*discoveryv1.EndpointSlice, port int32) []string {
	if addrs := readyAddresses(list, port); len(addrs) > 0 {
		return addrs
	}
	return sliceAddresses(list, port, func(c discoveryv1.EndpointConditions) bool {
		return c.Serving != nil && *c.Serving && c.Terminating != nil && *c.Terminating
	})
}

// sliceAddresses merges the endpoints of slices that use accepts into
// sorted, deduplicated "ip:port".
func sliceAddresses(list []*discoveryv1.EndpointSlice, port int32, use func(discoveryv1.EndpointConditions) bool) []string {
	seen := map[string]bool{}
	out := []string{}
	for _, s := range list {
		p, ok := slicePort(s, port)
		if !ok || (s.AddressType != discoveryv1.AddressTypeIPv4 && s.AddressType != discoveryv1.AddressTypeIPv6) {
			continue
		}
		for _, ep := range s.Endpoints {
			if !use(ep.Conditions) {
				continue
			}
			for _, ip := range ep.Addresses {
				a := net.JoinHostPort(ip, strconv.Itoa(int(p)))
				if !seen[a] {
					seen[a] = true
					out = append(out, a)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// slicePort is the slice's port that is port, or its only port when port
// is 0.
func slicePort(s *discoveryv1.EndpointSlice, port int32) (int32, bool) {
	for _, p := range s.Ports {
		if p.Port != nil && (*p.Port == port || (port == 0 && len(s.Ports) == 1)) {
			return *p.Port, true
		}
	}
	return 0, false
}
