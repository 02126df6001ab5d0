package tether

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/credentials"

	"github.com/tetherplug/tether/internal/fastrpc"
	"github.com/tetherplug/tether/internal/pb/tetherv1"
)

// fastRouter holds the fast-transport connections of a client's instances
// and picks one per call: round robin over the admitted instances whose
// connection is up. A call finds none (no instance offers the transport, a
// restart is under way, the instance is draining) and goes over gRPC,
// whose balancer then decides, waits or fails as for any call.
type fastRouter struct {
	c *Client
	// grpcOnly are the services and "service/method" names whose calls stay
	// on gRPC: those WithRetry names, since retry policies are gRPC's.
	grpcOnly map[string]bool

	mu    sync.Mutex
	conns map[string]fastConn   // by endpoint key
	early map[string]*earlyDial // dials started before their instance's admission

	live atomic.Pointer[[]*fastrpc.ClientConn] // admitted and up, rebuilt on every admission change
	next atomic.Uint32
}

// fastConn is one instance's fast connection; forget stops the watch that
// closes it when the instance leaves.
type fastConn struct {
	cc     *fastrpc.ClientConn
	forget func() bool
}

func newFastRouter(c *Client) *fastRouter {
	r := &fastRouter{c: c, conns: map[string]fastConn{}, early: map[string]*earlyDial{}, grpcOnly: map[string]bool{}}
	for _, name := range grpcOnlyServices {
		r.grpcOnly[name] = true
	}
	for _, rule := range c.opts.retries {
		for _, name := range rule.names {
			r.grpcOnly[strings.Trim(name, "/")] = true
		}
	}
	if len(c.opts.retries) > 0 {
		c.log.Info("calls with a retry policy use gRPC, whose retry machinery applies it; the others use the fast transport")
	}
	return r
}

// add connects to an admitted instance's fast transport, for as long as
// ctx lasts (the instance's membership). On failure the instance is
// called over gRPC, and the host logs why.
func (r *fastRouter) add(ctx context.Context, ep Endpoint, ft *tetherv1.FastTransport) {
	if why := fastUsable(ep, ft); why != "" {
		r.c.log.Debug("fast transport not used for this instance", "endpoint", ep.Address, "reason", why)
		return
	}
	dctx, cancel := context.WithTimeout(ctx, min(r.c.opts.startTimeout, fastDialTimeout))
	cc, err := r.connect(dctx, ep, ft)
	cancel()
	if err != nil {
		r.c.log.Warn("fast transport unreachable: calling this instance over gRPC", "endpoint", ep.Address, "error", err)
		if cc != nil {
			_ = cc.Close()
		}
		return
	}
	key := ep.key()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.conns[key] = fastConn{cc, context.AfterFunc(ctx, func() {
		r.mu.Lock()
		if r.conns[key].cc == cc {
			delete(r.conns, key)
		}
		r.mu.Unlock()
		r.rebuild()
		_ = cc.Close()
	})}
}

// fastDialTimeout bounds the fast connection's dial and preface exchange,
// which hold up the instance's admission: a local socket answers in well
// under a millisecond, and an instance whose fast socket does not answer
// still takes calls, over gRPC.
const fastDialTimeout = 5 * time.Second

// fastUsable says why an instance's fast transport cannot be used, or "".
func fastUsable(ep Endpoint, ft *tetherv1.FastTransport) string {
	switch {
	case ft == nil:
		return "the instance offers none"
	case ft.Version != fastrpc.Version:
		return fmt.Sprintf("the instance speaks version %d of it, the host %d", ft.Version, fastrpc.Version)
	case ft.Network != "unix" || ep.Network != "unix" || ep.Dial != nil:
		return "the instance is not local"
	case ft.Tls && ep.Creds == nil:
		return "its socket speaks TLS but the host has no credentials for the instance"
	}
	return ""
}

// dialOnce returns a dialer that reaches ft's socket the first time only:
// a fast connection that broke is not dialled again, since the calls then
// go over gRPC, which knows whether the instance is still there.
func dialOnce(ep Endpoint, ft *tetherv1.FastTransport) func(context.Context) (net.Conn, error) {
	var used atomic.Bool
	return func(ctx context.Context) (net.Conn, error) {
		if used.Swap(true) {
			return nil, fmt.Errorf("the fast connection to %s was lost", ft.Address)
		}
		var d net.Dialer
		nc, err := d.DialContext(ctx, "unix", ft.Address)
		if err != nil || !ft.Tls {
			return nc, err
		}
		name := ep.ServerName
		if name == "" {
			name = "localhost"
		}
		tc, auth, err := ep.Creds.Clone().ClientHandshake(ctx, name, nc)
		if err != nil {
			_ = nc.Close()
			return nil, err
		}
		return authConn{tc, auth}, nil
	}
}

// authConn is a connection through a credentials handshake, with what the
// handshake said: the calls' peers carry it (grpc.Peer), as over gRPC.
type authConn struct {
	net.Conn
	auth credentials.AuthInfo
}

func (c authConn) AuthInfo() credentials.AuthInfo { return c.auth }

// rebuild recomputes which fast connections take calls.
func (r *fastRouter) rebuild() {
	if r == nil {
		return
	}
	r.mu.Lock()
	live := make([]*fastrpc.ClientConn, 0, len(r.conns))
	for key, fc := range r.conns {
		if r.c.admission.isAdmitted(key) && !fc.cc.Down() {
			live = append(live, fc.cc)
		}
	}
	r.mu.Unlock()
	r.live.Store(&live)
}

// any reports whether some admitted instance takes calls over the fast
// transport now.
func (r *fastRouter) any() bool {
	if l := r.live.Load(); l != nil {
		for _, cc := range *l {
			if !cc.Down() {
				return true
			}
		}
	}
	return false
}

// pick returns the fast connection for a call, or nil for gRPC: a call
// pinned to one endpoint (Describe, a callback tunnel, Shutdown), a call
// WithRetry names, or no admitted instance up over the fast transport.
func (r *fastRouter) pick(ctx context.Context, method string) *fastrpc.ClientConn {
	l := r.live.Load()
	if l == nil || len(*l) == 0 {
		return nil
	}
	if ctx.Value(pinKey{}) != nil {
		return nil
	}
	full := strings.TrimPrefix(method, "/")
	service, _, _ := strings.Cut(full, "/")
	if r.grpcOnly[service] || r.grpcOnly[full] {
		return nil
	}
	conns := *l
	n := uint32(len(conns))
	start := r.next.Add(1)
	for i := range n {
		if cc := conns[(start+i)%n]; !cc.Down() {
			return cc
		}
	}
	return nil
}

// closeAll closes every fast connection (the client is closing), before
// the instances' contexts end, so that no watch is left to do it later.
func (r *fastRouter) closeAll() {
	if r == nil {
		return
	}
	r.mu.Lock()
	conns := r.conns
	r.conns = map[string]fastConn{}
	r.mu.Unlock()
	r.live.Store(nil)
	for _, fc := range conns {
		fc.forget()
		_ = fc.cc.Close()
	}
	r.closeEarly()
}
