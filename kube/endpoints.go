package kube

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/tetherplug/tether"
)

// follower watches the EndpointSlices of one Service and reports the
// addresses of its ready endpoints, all slices merged, each time they
// change.
type follower struct {
	factory    informers.SharedInformerFactory
	informer   cache.SharedIndexInformer
	store      cache.Store
	ns, name   string
	port       int32
	report     func(addrs []string)
	log        *slog.Logger
	mu         sync.Mutex
	last       []string
	changed    chan struct{} // signalled (not closed) after each change of last
	watchErr   error         // the latest failed list or watch, until the cache syncs
	denied     chan struct{} // closed when the watch is forbidden before the cache synced
	stop       chan struct{}
	deniedOnce sync.Once
}

// endpointSlices is the resource the follower lists and watches, as the
// API server and RBAC name it.
const endpointSlices = "endpointslices.discovery.k8s.io"

// follow starts watching Service name's slices in ns; report gets every new
// set of "ip:port" addresses, sorted. It returns once the slices are listed
// and cached, or with an error naming the verb (list or watch) the account
// may not use, or, when ctx ends first, the request that kept failing.
func follow(ctx context.Context, c kubernetes.Interface, ns, name string, port int32, report func([]string), log *slog.Logger) (*follower, error) {
	sel := labelServiceName + "=" + name
	if err := mayFollow(ctx, c, ns, name, sel); err != nil {
		return nil, err
	}
	f := &follower{ns: ns, name: name, port: port, report: report, log: log, last: []string{},
		changed: make(chan struct{}, 1), denied: make(chan struct{}), stop: make(chan struct{})}
	f.factory = informers.NewSharedInformerFactoryWithOptions(c, 0, informers.WithNamespace(ns),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = sel }))
	f.informer = f.factory.Discovery().V1().EndpointSlices().Informer()
	f.store = f.informer.GetStore()
	_ = f.informer.SetWatchErrorHandlerWithContext(f.watchFailed)
	_, _ = f.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { f.update() },
		UpdateFunc: func(any, any) { f.update() },
		DeleteFunc: func(any) { f.update() },
	})
	f.factory.Start(f.stop)
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
	var verb string
	err := withRetry(ctx, func() error {
		verb = "list"
		list, err := api.List(ctx, metav1.ListOptions{LabelSelector: sel, Limit: 1})
		if err != nil {
			return err
		}
		verb = "watch"
		w, err := api.Watch(ctx, metav1.ListOptions{LabelSelector: sel, ResourceVersion: list.ResourceVersion})
		if err != nil {
			return err
		}
		w.Stop()
		return nil
	})
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return notListed(ctx, name, ns, err)
	}
	return apiFailure(name, verb, endpointSlices, "", ns, err)
}

// watchFailed records a failed list or watch of the informer's reflector,
// which retries it with backoff. A watch the account may not use ends the
// wait for the first sync; after it, the endpoints stop following changes,
// which is logged.
func (f *follower) watchFailed(_ context.Context, _ *cache.Reflector, err error) {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
		return // a watch that ended: the reflector starts another
	}
	if !f.informer.HasSynced() {
		f.mu.Lock()
		f.watchErr = err
		f.mu.Unlock()
		if apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) {
			f.deniedOnce.Do(func() { close(f.denied) })
		}
		return
	}
	f.log.Warn("following the plugin's endpoints failed; retrying", "plugin", f.name, "namespace", f.ns,
		"error", &APIError{Verb: "watch", Resource: endpointSlices, Namespace: f.ns, Err: err})
}

// synced waits for the first list to be cached.
func (f *follower) synced(ctx context.Context) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !f.informer.HasSynced() {
		select {
		case <-ctx.Done():
			f.mu.Lock()
			err := f.watchErr
			f.mu.Unlock()
			return notListed(ctx, f.name, f.ns, err)
		case <-f.denied:
			f.mu.Lock()
			err := f.watchErr
			f.mu.Unlock()
			// mayFollow's list succeeded: it is the watch that is forbidden.
			return apiFailure(f.name, "watch", endpointSlices, "", f.ns, err)
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
	var list []*discoveryv1.EndpointSlice
	for _, o := range f.store.List() {
		if s, ok := o.(*discoveryv1.EndpointSlice); ok && s.Labels[labelServiceName] == f.name {
			list = append(list, s)
		}
	}
	addrs := readyAddresses(list, f.port)
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

// close stops the watch and waits for it to end.
func (f *follower) close() {
	close(f.stop)
	f.factory.Shutdown()
}

// readyAddresses merges slices into the sorted, deduplicated "ip:port" of
// their ready endpoints. An endpoint is ready unless its Ready condition
// says false (nil means unknown, which the API says to take as ready); a
// terminating one is not. The port is the slice's port numbered port, or
// its only port.
func readyAddresses(list []*discoveryv1.EndpointSlice, port int32) []string {
	seen := map[string]bool{}
	out := []string{}
	for _, s := range list {
		p, ok := slicePort(s, port)
		if !ok || (s.AddressType != discoveryv1.AddressTypeIPv4 && s.AddressType != discoveryv1.AddressTypeIPv6) {
			continue
		}
		for _, ep := range s.Endpoints {
			c := ep.Conditions
			if (c.Ready != nil && !*c.Ready) || (c.Terminating != nil && *c.Terminating) {
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
