package kube

import (
	"net"
	"slices"
	"strconv"
	"sync"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// follower watches the EndpointSlices of one Service and reports the
// addresses of its ready endpoints, all slices merged, each time they
// change.
type follower struct {
	factory informers.SharedInformerFactory
	store   cache.Store
	name    string
	port    int32
	report  func(addrs []string)
	mu      sync.Mutex
	last    []string
	stop    chan struct{}
}

// follow starts watching Service name's slices in ns; report gets every new
// set of "ip:port" addresses, sorted.
func follow(c kubernetes.Interface, ns, name string, port int32, report func([]string)) *follower {
	f := &follower{name: name, port: port, report: report, stop: make(chan struct{}), last: []string{}}
	f.factory = informers.NewSharedInformerFactoryWithOptions(c, 0, informers.WithNamespace(ns),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = labelServiceName + "=" + name }))
	inf := f.factory.Discovery().V1().EndpointSlices().Informer()
	f.store = inf.GetStore()
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { f.update() },
		UpdateFunc: func(any, any) { f.update() },
		DeleteFunc: func(any) { f.update() },
	})
	f.factory.Start(f.stop)
	return f
}

// synced waits for the first list; false if the follower was stopped first.
func (f *follower) synced() bool {
	ok := cache.WaitForCacheSync(f.stop, f.factory.Discovery().V1().EndpointSlices().Informer().HasSynced)
	if ok {
		f.update()
	}
	return ok
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
