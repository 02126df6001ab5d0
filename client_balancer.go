package tether

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/status"
)

// The instances balancer is the gRPC load-balancing policy of every
// Client's connection. It keeps one SubConn (one HTTP/2 connection) per
// endpoint the runtime reported, and sends ordinary calls round robin to
// the instances the client admitted: those that answered Describe with
// versions fitting what the host negotiated. A call whose context is
// pinned to one endpoint (Describe itself, a callback tunnel, a graceful
// Shutdown) goes to that endpoint's connection alone, admitted or not.
//
// The policy learns who admits what from the resolver state's attributes,
// which carry the client's *admission.
const balancerName = "tether_instances"

func init() { balancer.Register(instancesBuilder{}) }

type instancesBuilder struct{}

func (instancesBuilder) Name() string { return balancerName }

func (instancesBuilder) Build(cc balancer.ClientConn, _ balancer.BuildOptions) balancer.Balancer {
	return &instancesBalancer{cc: cc, subs: map[string]*subConn{}}
}

type admissionKey struct{}

// pinKey marks a call's context as meant for one endpoint.
type pinKey struct{}

// pinTo returns ctx with its calls pinned to the endpoint of key.
func pinTo(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, pinKey{}, key)
}

// healthKey marks, in an address's attributes, an endpoint whose
// connection watches the instance's health (Endpoint.HealthChecked).
type healthKey struct{}

func healthChecked(a resolver.Address) bool {
	on, _ := a.Attributes.Value(healthKey{}).(bool)
	return on
}

// instanceStates is what the balancer needs of the client's admission
// state (*admission): who takes calls, and the connections' ups and downs.
type instanceStates interface {
	isAdmitted(key string) bool
	isPending(key string) bool
	unavailable() error // why no instance takes calls
	hasEnded() bool     // the runtime reports no more endpoints
	subConnReady(key string)
	subConnLost(key string, err error)
	onChange(refresh func())
}

type subConn struct {
	key   string
	sc    balancer.SubConn
	state connectivity.State
}

type instancesBalancer struct {
	cc     balancer.ClientConn
	mu     sync.Mutex
	states instanceStates
	subs   map[string]*subConn
	done   bool
}

func (b *instancesBalancer) UpdateClientConnState(s balancer.ClientConnState) error {
	b.mu.Lock()
	if p, ok := s.ResolverState.Attributes.Value(admissionKey{}).(instanceStates); ok && b.states == nil {
		b.states = p
		p.onChange(b.refresh)
	}
	want := map[string]resolver.Address{}
	for _, a := range s.ResolverState.Addresses {
		want[a.Addr] = a
	}
	for key, sub := range b.subs {
		if _, ok := want[key]; !ok {
			sub.sc.Shutdown()
			delete(b.subs, key)
		}
	}
	for key, a := range want {
		if _, ok := b.subs[key]; ok {
			continue
		}
		sub := &subConn{key: key, state: connectivity.Idle}
		//lint:ignore SA1019 the deprecation warns that SubConns will take one address each, as these do
		sc, err := b.cc.NewSubConn([]resolver.Address{a}, balancer.NewSubConnOptions{
			HealthCheckEnabled: healthChecked(a),
			StateListener:      func(st balancer.SubConnState) { b.subConnState(sub, st) },
		})
		if err != nil {
			continue
		}
		sub.sc = sc
		b.subs[key] = sub
		sc.Connect()
	}
	b.mu.Unlock()
	b.refresh()
	return nil
}

func (b *instancesBalancer) subConnState(sub *subConn, st balancer.SubConnState) {
	b.mu.Lock()
	if b.subs[sub.key] != sub || st.ConnectivityState == connectivity.Shutdown {
		b.mu.Unlock()
		return
	}
	was := sub.state
	sub.state = st.ConnectivityState
	if sub.state == connectivity.Idle {
		sub.sc.Connect() // an instance's connection is kept up, with gRPC's backoff
	}
	p := b.states
	b.mu.Unlock()
	if p != nil {
		switch {
		case sub.state == connectivity.Ready:
			p.subConnReady(sub.key)
		case was == connectivity.Ready || sub.state == connectivity.TransientFailure:
			p.subConnLost(sub.key, st.ConnectionError)
		}
	}
	b.refresh()
}

// refresh builds a picker from the connections' states and the instances'
// admissions, and tells gRPC.
func (b *instancesBalancer) refresh() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		return
	}
	pk := &picker{byKey: map[string]balancer.SubConn{}}
	pending := false
	for key, sub := range b.subs {
		switch sub.state {
		case connectivity.Ready:
			pk.byKey[key] = sub.sc
			if b.states != nil && b.states.isAdmitted(key) {
				pk.admitted = append(pk.admitted, sub.sc)
			} else if b.states == nil || b.states.isPending(key) {
				pending = true
			}
		case connectivity.Connecting, connectivity.Idle:
			pending = true
		}
	}
	state := connectivity.TransientFailure
	switch {
	case len(pk.admitted) > 0:
		state = connectivity.Ready
	case pending:
		state = connectivity.Connecting
	}
	pk.pending = pending
	if b.states != nil {
		pk.why = b.states.unavailable
		pk.ended = b.states.hasEnded()
	}
	b.cc.UpdateState(balancer.State{ConnectivityState: state, Picker: pk})
}

func (b *instancesBalancer) ResolverError(error) {}

func (b *instancesBalancer) UpdateSubConnState(balancer.SubConn, balancer.SubConnState) {}

func (b *instancesBalancer) ExitIdle() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, sub := range b.subs {
		if sub.state == connectivity.Idle {
			sub.sc.Connect()
		}
	}
}

func (b *instancesBalancer) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done = true
	for key, sub := range b.subs {
		sub.sc.Shutdown()
		delete(b.subs, key)
	}
}

// noInstanceMessage starts the status message of a call that found no
// instance to go to.
const noInstanceMessage = "tether: no plugin instance is reachable"

// picker sends ordinary calls round robin over the admitted instances, and
// pinned calls to their endpoint.
type picker struct {
	admitted []balancer.SubConn
	byKey    map[string]balancer.SubConn // every READY connection
	pending  bool                        // some instance may become usable soon
	ended    bool                        // none ever will: the runtime has ended
	why      func() error                // why no instance takes calls
	next     atomic.Uint32
}

func (p *picker) Pick(info balancer.PickInfo) (balancer.PickResult, error) {
	if key, ok := info.Ctx.Value(pinKey{}).(string); ok {
		if sc, ok := p.byKey[key]; ok {
			return balancer.PickResult{SubConn: sc}, nil
		}
		return balancer.PickResult{}, balancer.ErrNoSubConnAvailable
	}
	if n := len(p.admitted); n > 0 {
		return balancer.PickResult{SubConn: p.admitted[int(p.next.Add(1)-1)%n]}, nil
	}
	if p.pending {
		return balancer.PickResult{}, balancer.ErrNoSubConnAvailable
	}
	msg := noInstanceMessage
	if p.why != nil {
		if err := p.why(); err != nil {
			msg += ": " + err.Error()
		}
	}
	if p.ended {
		// A status error fails even wait-for-ready calls: nothing will come.
		return balancer.PickResult{}, status.Error(codes.Unavailable, msg+": the plugin has ended")
	}
	// Not a status error: gRPC fails calls with Unavailable and this
	// message, but lets wait-for-ready calls wait for the next picker.
	return balancer.PickResult{}, errors.New(msg)
}
