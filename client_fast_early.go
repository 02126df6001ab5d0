package tether

import (
	"context"

	"google.golang.org/protobuf/proto"

	"github.com/tetherplug/tether/internal/fastrpc"
	"github.com/tetherplug/tether/internal/pb/tetherv1"
)

// earlyDial is a fast connection dialled as soon as the runtime reports its
// endpoint with a Describe answer (a launched plugin's handshake line
// carries one), while the gRPC connection comes up: the admission then
// finds it ready instead of dialling after it, which kept start-up a
// little slower than over gRPC alone.
type earlyDial struct {
	done chan struct{} // closed when the dial is over
	cc   *fastrpc.ClientConn
	err  error
	opts []fastrpc.ClientOption
}

// prepare starts the early dials of new endpoints in eps, and drops those
// of endpoints no longer reported.
func (r *fastRouter) prepare(eps []Endpoint) {
	if r == nil {
		return
	}
	keep := make(map[string]bool, len(eps))
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ep := range eps {
		key := ep.key()
		keep[key] = true
		if _, known := r.conns[key]; known || r.early[key] != nil || len(ep.Describe) == 0 {
			continue
		}
		resp := &tetherv1.DescribeResponse{}
		if proto.Unmarshal(ep.Describe, resp) != nil || fastUsable(ep, resp.GetFast()) != "" {
			continue // the admission says why, if it comes to that
		}
		d := &earlyDial{done: make(chan struct{}), opts: r.c.opts.tracing.fastOptions()}
		r.early[key] = d
		go d.dial(ep, resp.GetFast())
	}
	for key, d := range r.early {
		if !keep[key] {
			delete(r.early, key)
			go d.discard()
		}
	}
}

func (d *earlyDial) dial(ep Endpoint, ft *tetherv1.FastTransport) {
	defer close(d.done)
	d.cc = fastrpc.NewClientConn(dialOnce(ep, ft), d.opts...)
	ctx, cancel := context.WithTimeout(context.Background(), fastDialTimeout)
	defer cancel()
	d.err = d.cc.Connect(ctx)
}

// discard closes the connection once the dial is over (within
// fastDialTimeout).
func (d *earlyDial) discard() {
	<-d.done
	_ = d.cc.Close()
}

// takeEarly returns the early dial of key's endpoint, if one was started,
// and forgets it.
func (r *fastRouter) takeEarly(key string) *earlyDial {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := r.early[key]
	delete(r.early, key)
	return d
}

// connect is the fast connection of an admitted instance: its early dial's
// when there was one, else one dialled now; within ctx either way.
func (r *fastRouter) connect(ctx context.Context, ep Endpoint, ft *tetherv1.FastTransport) (*fastrpc.ClientConn, error) {
	if d := r.takeEarly(ep.key()); d != nil {
		select {
		case <-d.done:
			return d.cc, d.err
		case <-ctx.Done():
			go d.discard()
			return nil, ctx.Err()
		}
	}
	cc := fastrpc.NewClientConn(dialOnce(ep, ft), r.c.opts.tracing.fastOptions()...)
	return cc, cc.Connect(ctx)
}

// closeEarly closes the early dials no admission took (the client is
// closing); each is over within fastDialTimeout.
func (r *fastRouter) closeEarly() {
	r.mu.Lock()
	early := r.early
	r.early = map[string]*earlyDial{}
	r.mu.Unlock()
	for _, d := range early {
		d.discard()
	}
}
