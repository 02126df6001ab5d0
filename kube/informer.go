package kube

import (
	"context"
	"errors"
	"io"
	"reflect"
	"sync"

	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	discoveryinformers "k8s.io/client-go/informers/discovery/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// indexServiceName indexes the EndpointSlices of a namespace by the
// Service they belong to (their kubernetes.io/service-name label).
const indexServiceName = "service-name"

// sliceInformer is the one EndpointSlice informer of a (client, namespace)
// in the process: every follower of a Service in that namespace, through
// the same client, registers its handler on it. It is reference counted
// and stops when its last follower closes.
type sliceInformer struct {
	key      informerKey
	informer cache.SharedIndexInformer
	cancel   context.CancelFunc
	done     chan struct{} // closed when the informer has stopped
	refs     int           // guarded by sliceInformers.mu

	mu         sync.Mutex
	watchErr   error                  // the latest failed list or watch, until the cache syncs
	users      map[*follower]struct{} // to log a failure after the sync
	denied     chan struct{}          // closed when the watch is forbidden before the cache synced
	deniedOnce sync.Once
}

// informerKey names a shared informer: the client and the namespace.
type informerKey struct {
	client any
	ns     string
}

// sliceInformers are the running shared informers.
var sliceInformers = struct {
	mu sync.Mutex
	m  map[informerKey]*sliceInformer
}{m: map[informerKey]*sliceInformer{}}

// acquireSlices returns the running informer of the EndpointSlices of ns
// through c, starting it if there is none; release it when done. A client
// whose type cannot be a map key gets an informer of its own.
func acquireSlices(c kubernetes.Interface, ns string) *sliceInformer {
	key := informerKey{client: c, ns: ns}
	if !reflect.TypeOf(c).Comparable() {
		key.client = new(byte) // unique: not shared
	}
	sliceInformers.mu.Lock()
	defer sliceInformers.mu.Unlock()
	if s := sliceInformers.m[key]; s != nil {
		s.refs++
		return s
	}
	s := &sliceInformer{key: key, refs: 1, done: make(chan struct{}), denied: make(chan struct{}),
		users: map[*follower]struct{}{}}
	s.informer = discoveryinformers.NewFilteredEndpointSliceInformer(c, ns, 0,
		cache.Indexers{indexServiceName: byServiceName}, nil)
	_ = s.informer.SetWatchErrorHandlerWithContext(s.watchFailed)
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go func() {
		defer close(s.done)
		s.informer.RunWithContext(ctx)
	}()
	sliceInformers.m[key] = s
	return s
}

// release drops one reference; the last stops the informer and waits
// until it has.
func (s *sliceInformer) release() {
	sliceInformers.mu.Lock()
	s.refs--
	last := s.refs == 0
	if last {
		delete(sliceInformers.m, s.key)
	}
	sliceInformers.mu.Unlock()
	if last {
		s.cancel()
		<-s.done
	}
}

// byServiceName is the index function of indexServiceName.
func byServiceName(obj any) ([]string, error) {
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return nil, nil
	}
	if name := s.Labels[labelServiceName]; name != "" {
		return []string{name}, nil
	}
	return nil, nil
}

// serviceOf is the Service an informer event's slice belongs to, a
// deleted one's too.
func serviceOf(obj any) string {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	if s, ok := obj.(*discoveryv1.EndpointSlice); ok {
		return s.Labels[labelServiceName]
	}
	return ""
}

// slices are the cached EndpointSlices of Service name.
func (s *sliceInformer) slices(name string) []*discoveryv1.EndpointSlice {
	objs, _ := s.informer.GetIndexer().ByIndex(indexServiceName, name)
	out := make([]*discoveryv1.EndpointSlice, 0, len(objs))
	for _, o := range objs {
		if sl, ok := o.(*discoveryv1.EndpointSlice); ok {
			out = append(out, sl)
		}
	}
	return out
}

// watchFailed records a failed list or watch of the informer's reflector,
// which retries it with backoff. A watch the account may not use ends the
// followers' wait for the first sync; after it, their endpoints stop
// following changes, which each logs.
func (s *sliceInformer) watchFailed(_ context.Context, _ *cache.Reflector, err error) {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
		return // a watch that ended: the reflector starts another
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.informer.HasSynced() {
		s.watchErr = err
		if apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) {
			s.deniedOnce.Do(func() { close(s.denied) })
		}
		return
	}
	for f := range s.users {
		f.log.Warn("following the plugin's endpoints failed; retrying", "plugin", f.name, "namespace", f.ns,
			"error", &APIError{Verb: "watch", Resource: endpointSlices, Namespace: f.ns, Err: err})
	}
}

// lastError is the latest failed list or watch before the sync.
func (s *sliceInformer) lastError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.watchErr
}

// join registers f to be told of its Service's slices' changes (and to
// log the informer's failures).
func (s *sliceInformer) join(f *follower) (cache.ResourceEventHandlerRegistration, error) {
	s.mu.Lock()
	s.users[f] = struct{}{}
	s.mu.Unlock()
	update := func(any) { f.update() }
	return s.informer.AddEventHandler(cache.FilteringResourceEventHandler{
		FilterFunc: func(obj any) bool { return serviceOf(obj) == f.name },
		Handler: cache.ResourceEventHandlerFuncs{
			AddFunc:    update,
			UpdateFunc: func(_, o any) { update(o) },
			DeleteFunc: update,
		},
	})
}

// leave undoes join.
func (s *sliceInformer) leave(f *follower, reg cache.ResourceEventHandlerRegistration) {
	if reg != nil {
		_ = s.informer.RemoveEventHandler(reg)
	}
	s.mu.Lock()
	delete(s.users, f)
	s.mu.Unlock()
}
