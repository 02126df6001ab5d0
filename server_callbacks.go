package tether

import (
	"context"
	"errors"
	"net"
	"slices"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/tetherplug/tether/internal/pb/tetherv1"
	"github.com/tetherplug/tether/internal/tunnel"
)

// HostConn is a plugin's connection to the services its hosts provide
// (callbacks). It is a grpc.ClientConnInterface: pass it to generated
// NewXxxClient functions. Its zero value is ready to use, as is one from
// NewHostConn: give it to ServeConfig.Host, and use it from the plugin's
// handlers. A HostConn must not be copied after first use.
//
// Calls travel over the connection the host opened to the plugin, in the
// other direction, inside the Callbacks/Tunnel stream the host opened; no
// socket or port is opened for them. Each host client that provides
// callbacks has a session id, which it sends with every call
// (SessionMetadataKey), and HostConn keeps one tunnel per session. A call goes to exactly one session's tunnel:
//
//   - made with the context of an incoming RPC (or a context derived from
//     it), it goes to the session that made that RPC, and never to another
//     host, even when several hosts share one connection (a proxy);
//   - made with a context from WithHostSession, it goes to that session;
//   - made with any other context, it goes to the most recently opened
//     tunnel that is still open.
//
// When the chosen session has no tunnel (yet), the call waits for one until
// its context ends, then fails with codes.Unavailable. A call made inside
// an RPC whose caller sent no session id (a host that provides no
// callbacks, a go-plugin host, grpcurl) fails at once with
// codes.FailedPrecondition. Deadlines and cancellation propagate as for any
// gRPC call.
type HostConn struct {
	mu       sync.Mutex
	sessions map[string]*hostTunnel // the current tunnel of each session
	open     []*hostTunnel          // current tunnels, oldest first
	live     map[*hostTunnel]bool   // every tunnel not yet ended, replaced ones too
	changed  chan struct{}          // closed and replaced whenever tunnels change
	tracing  *tracing               // the server's; nil: callbacks are not traced
}

// NewHostConn returns a HostConn with no host yet; new(HostConn) is the
// same.
func NewHostConn() *HostConn { return new(HostConn) }

// initLocked makes the zero HostConn's maps and channel; h.mu is held.
func (h *HostConn) initLocked() {
	if h.changed == nil {
		h.sessions, h.live, h.changed = map[string]*hostTunnel{}, map[*hostTunnel]bool{}, make(chan struct{})
	}
}

type hostTunnel struct {
	session string
	cc      *grpc.ClientConn
	end     func()
}

// sessionKey is the context key of WithHostSession.
type sessionKey struct{}

// WithHostSession returns a context for callbacks to host session id (as
// HostSession returned it): a call made through a HostConn with it, or with
// a context derived from it, goes to that session's tunnel and to no other,
// whatever RPC ctx belongs to; with id "" (HostSession found none) it fails
// with codes.FailedPrecondition rather than reach some other host. Use it
// for work that goes on after the RPC that started it has returned.
func WithHostSession(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, sessionKey{}, id)
}

// HostSession returns the host session callbacks made with ctx go to: the
// one named by WithHostSession, else the one that made the incoming RPC ctx
// belongs to, or "" when there is none (or the RPC's caller sent an invalid
// or ambiguous session id).
func HostSession(ctx context.Context) string {
	id, _, err := sessionOf(ctx)
	if err != nil || !validSession(id) {
		return ""
	}
	return id
}

// sessionOf finds the session ctx's callbacks go to. inRPC reports a
// context of an incoming RPC or one from WithHostSession, for which "" means
// no session at all; id is "" when nothing names a session.
func sessionOf(ctx context.Context) (id string, inRPC bool, err error) {
	if id, ok := ctx.Value(sessionKey{}).(string); ok {
		return id, true, nil // named: "" names no host, not "any host"
	}
	if grpc.ServerTransportStreamFromContext(ctx) == nil {
		return "", false, nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	id, err = sessionFromMetadata(md)
	return id, true, err
}

// sessionFromMetadata reads the session id an RPC carries: "" when none, an
// error when it carries several different ones.
func sessionFromMetadata(md metadata.MD) (string, error) {
	vs := md[SessionMetadataKey]
	if len(vs) == 0 {
		return "", nil
	}
	for _, v := range vs[1:] {
		if v != vs[0] {
			return "", status.Errorf(codes.InvalidArgument, "tether: the call carries %d different %s values", len(vs), SessionMetadataKey)
		}
	}
	return vs[0], nil
}

// validSession reports whether id is 32 lowercase hexadecimal characters.
func validSession(id string) bool {
	if len(id) != 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// closeAll ends every tunnel, so a graceful stop does not wait on them.
func (h *HostConn) closeAll() {
	h.mu.Lock()
	ts := make([]*hostTunnel, 0, len(h.live))
	for t := range h.live {
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

// pick finds the tunnel ctx's callbacks go to (see HostConn), waiting for
// it while ctx allows.
func (h *HostConn) pick(ctx context.Context) (*hostTunnel, error) {
	id, inRPC, err := sessionOf(ctx)
	if err != nil {
		return nil, err
	}
	if id == "" && inRPC {
		return nil, status.Errorf(codes.FailedPrecondition,
			"tether: no host session to call back: the RPC's caller sent no %s (it is not a tether host), or WithHostSession named none", SessionMetadataKey)
	}
	if id != "" && !validSession(id) {
		return nil, status.Errorf(codes.InvalidArgument, "tether: host session %q is not 32 lowercase hex characters", id)
	}
	for {
		h.mu.Lock()
		h.initLocked()
		var t *hostTunnel
		if id != "" {
			t = h.sessions[id]
		} else if n := len(h.open); n > 0 {
			t = h.open[n-1]
		}
		changed := h.changed
		h.mu.Unlock()
		if t != nil {
			return t, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			if id != "" {
				return nil, status.Errorf(codes.Unavailable, "tether: host session %s has no callback tunnel: %v", id, ctx.Err())
			}
			return nil, status.Errorf(codes.Unavailable, "tether: no host provides callbacks: %v", ctx.Err())
		}
	}
}

// add makes t its session's tunnel and the most recent one. A tunnel it
// replaces stays open for the calls already on it but gets no new ones.
func (h *HostConn) add(t *hostTunnel) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.initLocked()
	if old := h.sessions[t.session]; old != nil {
		h.open = slices.DeleteFunc(h.open, func(o *hostTunnel) bool { return o == old })
	}
	h.sessions[t.session] = t
	h.open = append(h.open, t)
	h.live[t] = true
	close(h.changed)
	h.changed = make(chan struct{})
}

// remove forgets t, if it is still its session's tunnel.
func (h *HostConn) remove(t *hostTunnel) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.initLocked()
	delete(h.live, t)
	if h.sessions[t.session] != t {
		return
	}
	delete(h.sessions, t.session)
	h.open = slices.DeleteFunc(h.open, func(o *hostTunnel) bool { return o == t })
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
	md, _ := metadata.FromIncomingContext(ctx)
	session, err := sessionFromMetadata(md)
	if err != nil {
		return err
	}
	if !validSession(session) {
		return status.Errorf(codes.InvalidArgument,
			"tether: a callback tunnel needs metadata %s of 32 lowercase hex characters, got %q", SessionMetadataKey, session)
	}
	ended := make(chan struct{})
	var endOnce sync.Once
	conn := tunnel.NewConn(stream, func() { endOnce.Do(func() { close(ended) }) },
		tunnel.Addr{Name: "plugin"}, tunnel.Addr{Name: "host"})
	var used atomic.Bool
	cc, err := grpc.NewClient("passthrough:///tether-host", append(cs.host.dialOptions(),
		grpc.WithTransportCredentials(insecure.NewCredentials()), // inside the outer, already secured connection
		grpc.WithIdleTimeout(0),                                  // the tunnel cannot be redialled, so never let it go idle
		grpc.WithContextDialer(func(context.Context, string) (net.Conn, error) {
			if used.Swap(true) {
				return nil, errors.New("tether: the host's callback tunnel is closed")
			}
			return conn, nil
		}))...)
	if err != nil {
		return status.Errorf(codes.Internal, "tether: callback connection: %v", err)
	}
	cc.Connect()
	t := &hostTunnel{session: session, cc: cc, end: func() { _ = conn.Close() }}
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
