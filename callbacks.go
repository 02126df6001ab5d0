package tether

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/tetherplug/tether/internal/pb/tetherv1"
	"github.com/tetherplug/tether/internal/tunnel"
)

// FeatureCallbacks is the Describe feature of plugins that serve
// tether.v1.Callbacks/Tunnel.
const FeatureCallbacks = "callbacks"

// HostConn is a plugin's connection to the services its host provides
// (callbacks). It is a grpc.ClientConnInterface: pass it to generated
// NewXxxClient functions. Create one with NewHostConn, give it to
// ServeConfig.Host, and use it from the plugin's handlers.
//
// Calls travel over the connection the host opened to the plugin, in the
// other direction; no socket or port is opened for them. A call made with the
// context of an incoming RPC goes to the host that made that RPC, so a plugin
// serving several hosts calls each one back correctly; a call made with any
// other context goes to the host that connected most recently. Deadlines and
// cancellation propagate as for any gRPC call. When no host provides
// callbacks, calls wait for one until their context ends, then fail with
// codes.Unavailable.
type HostConn struct {
	mu      sync.Mutex
	tunnels map[uint64]*hostTunnel
	latest  *hostTunnel
	changed chan struct{} // closed and replaced whenever tunnels change
}

// NewHostConn returns a HostConn with no host yet.
func NewHostConn() *HostConn {
	return &HostConn{tunnels: map[uint64]*hostTunnel{}, changed: make(chan struct{})}
}

type hostTunnel struct {
	connID uint64
	cc     *grpc.ClientConn
	end    func()
}

// closeAll ends every tunnel, so a graceful stop does not wait on them.
func (h *HostConn) closeAll() {
	h.mu.Lock()
	ts := make([]*hostTunnel, 0, len(h.tunnels))
	for _, t := range h.tunnels {
		ts = append(ts, t)
	}
	h.mu.Unlock()
	for _, t := range ts {
		t.end()
	}
}

var _ grpc.ClientConnInterface = (*HostConn)(nil)

// Invoke performs a unary call on the host.
func (h *HostConn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	t, err := h.pick(ctx)
	if err != nil {
		return err
	}
	return t.cc.Invoke(ctx, method, args, reply, opts...)
}

// NewStream opens a stream to the host.
func (h *HostConn) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	t, err := h.pick(ctx)
	if err != nil {
		return nil, err
	}
	return t.cc.NewStream(ctx, desc, method, opts...)
}

// pick finds the tunnel of the host that made the RPC ctx belongs to, or
// the newest one, waiting for one while ctx allows.
func (h *HostConn) pick(ctx context.Context) (*hostTunnel, error) {
	id, fromRPC := connID(ctx)
	for {
		h.mu.Lock()
		t := h.latest
		if fromRPC {
			if ct, ok := h.tunnels[id]; ok {
				t = ct
			}
		}
		changed := h.changed
		h.mu.Unlock()
		if t != nil {
			return t, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, status.Errorf(codes.Unavailable, "tether: no host provides callbacks: %v", ctx.Err())
		}
	}
}

func (h *HostConn) add(t *hostTunnel) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.tunnels[t.connID] = t
	h.latest = t
	close(h.changed)
	h.changed = make(chan struct{})
}

func (h *HostConn) remove(t *hostTunnel) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.tunnels[t.connID] == t {
		delete(h.tunnels, t.connID)
	}
	if h.latest == t {
		h.latest = nil
		for _, other := range h.tunnels {
			h.latest = other
		}
	}
	close(h.changed)
	h.changed = make(chan struct{})
}

// callbackServer serves Callbacks/Tunnel on the plugin side.
type callbackServer struct {
	tetherv1.UnimplementedCallbacksServer
	host *HostConn
}

func (cs callbackServer) Tunnel(stream grpc.BidiStreamingServer[tetherv1.TunnelFrame, tetherv1.TunnelFrame]) error {
	ctx := stream.Context()
	id, _ := connID(ctx)
	ended := make(chan struct{})
	var endOnce sync.Once
	conn := tunnel.NewConn(stream, func() { endOnce.Do(func() { close(ended) }) },
		tunnel.Addr{Name: "plugin"}, tunnel.Addr{Name: "host"})
	var used atomic.Bool
	cc, err := grpc.NewClient("passthrough:///tether-host",
		grpc.WithTransportCredentials(insecure.NewCredentials()), // inside the outer, already secured connection
		grpc.WithIdleTimeout(0),                                  // the tunnel cannot be redialled, so never let it go idle
		grpc.WithContextDialer(func(context.Context, string) (net.Conn, error) {
			if used.Swap(true) {
				return nil, errors.New("tether: the host's callback tunnel is closed")
			}
			return conn, nil
		}))
	if err != nil {
		return status.Errorf(codes.Internal, "tether: callback connection: %v", err)
	}
	cc.Connect()
	t := &hostTunnel{connID: id, cc: cc, end: func() { _ = conn.Close() }}
	cs.host.add(t)
	defer func() {
		cs.host.remove(t)
		_ = cc.Close()
		_ = conn.Close()
	}()
	select {
	case <-ctx.Done():
	case <-ended:
	}
	return nil
}

// connTagListener numbers each connection it accepts. The number travels as
// the connection's remote address, which gRPC gives every RPC through
// peer.FromContext, so that a callback made inside an RPC finds the tunnel
// of the same host. (A gRPC stats handler could tag connections too, but any
// stats handler makes gRPC build stats events for every call, which cost
// about a fifth of the throughput of 16 concurrent callers.)
type connTagListener struct {
	net.Listener
	next atomic.Uint64
}

func (l *connTagListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &taggedConn{Conn: c, remote: taggedAddr{inner: c.RemoteAddr(), id: l.next.Add(1)}}, nil
}

type taggedConn struct {
	net.Conn
	remote taggedAddr
}

func (c *taggedConn) RemoteAddr() net.Addr { return c.remote }

// taggedAddr is a connection's remote address and its number.
type taggedAddr struct {
	inner net.Addr
	id    uint64
}

func (a taggedAddr) Network() string {
	if a.inner == nil {
		return "unix"
	}
	return a.inner.Network()
}

func (a taggedAddr) String() string {
	if a.inner == nil {
		return ""
	}
	return a.inner.String()
}

// connID is the number of the connection ctx's RPC came on, and false for
// a connection a connTagListener did not accept.
func connID(ctx context.Context) (uint64, bool) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return 0, false
	}
	a, ok := p.Addr.(taggedAddr)
	return a.id, ok
}
