package fastrpc

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
)

// ClientOption configures a ClientConn.
type ClientOption func(*clientOptions)

type clientOptions struct {
	maxRecv, maxSend int
	stats            stats.Handler
}

// WithMaxRecvMsgSize sets the largest message the client accepts (default
// DefaultMaxMsgSize); a larger one fails the call with ResourceExhausted.
func WithMaxRecvMsgSize(n int) ClientOption { return func(o *clientOptions) { o.maxRecv = n } }

// WithMaxSendMsgSize sets the largest message the client sends (default
// DefaultMaxMsgSize); a larger one fails the call with ResourceExhausted.
func WithMaxSendMsgSize(n int) ClientOption { return func(o *clientOptions) { o.maxSend = n } }

// ClientConn is a grpc.ClientConnInterface over the fastrpc framing, so the
// stubs protoc-gen-go-grpc generates (NewXxxClient) run on it unchanged. It
// dials lazily on the first call and again after the connection broke or the
// server asked it to go away; calls in flight on a broken connection fail
// with codes.Unavailable.
type ClientConn struct {
	dial func(context.Context) (net.Conn, error)
	opts clientOptions

	mu     sync.Mutex
	cur    *clientTransport
	closed bool
	down   atomic.Bool // cur broke or was told to go away
}

var _ grpc.ClientConnInterface = (*ClientConn)(nil)

// NewClientConn returns a ClientConn that reaches its server through dial.
func NewClientConn(dial func(context.Context) (net.Conn, error), opts ...ClientOption) *ClientConn {
	cc := &ClientConn{dial: dial, opts: clientOptions{maxRecv: DefaultMaxMsgSize, maxSend: DefaultMaxMsgSize}}
	for _, o := range opts {
		o(&cc.opts)
	}
	return cc
}

// Dial returns a ClientConn for a server listening on network/addr (usually
// "unix" and a socket path). It does not connect until the first call.
func Dial(network, addr string, opts ...ClientOption) *ClientConn {
	var d net.Dialer
	return NewClientConn(func(ctx context.Context) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}, opts...)
}

// ErrClientConnClosing is the cause of calls made after Close.
var ErrClientConnClosing = errors.New("fastrpc: the client connection is closing")

// transport returns a live connection, dialling one when there is none.
func (cc *ClientConn) transport(ctx context.Context) (*clientTransport, error) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.closed {
		return nil, status.Error(codes.Canceled, ErrClientConnClosing.Error())
	}
	if t := cc.cur; t != nil && t.usable() {
		return t, nil
	}
	nc, err := cc.dial(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, status.FromContextError(ctx.Err()).Err()
		}
		return nil, status.Errorf(codes.Unavailable, "fastrpc: dial: %v", err)
	}
	t, err := newClientTransport(ctx, nc, cc.opts, &cc.down)
	if err != nil {
		_ = nc.Close()
		return nil, status.Errorf(codes.Unavailable, "fastrpc: handshake: %v", err)
	}
	cc.cur = t
	cc.down.Store(false)
	return t, nil
}

// Connect dials now unless a usable connection exists, so that a peer that
// is not a fastrpc server, or none at all, is found before the first call.
func (cc *ClientConn) Connect(ctx context.Context) error {
	_, err := cc.transport(ctx)
	return err
}

// Down reports, without locking, whether the connection last dialled broke
// or its server asked for no new calls on it (a graceful stop): a caller
// with another way to its server should take it. A later call would dial
// again.
func (cc *ClientConn) Down() bool { return cc.down.Load() }

// Close closes the connection; calls in flight fail with codes.Unavailable
// and later calls with codes.Canceled.
func (cc *ClientConn) Close() error {
	cc.mu.Lock()
	t := cc.cur
	cc.closed, cc.cur = true, nil
	cc.mu.Unlock()
	if t != nil {
		t.fail(ErrClientConnClosing)
		<-t.done
	}
	return nil
}

// Invoke performs a unary call: one frame batch out (request, message,
// half-close), the reply read by the connection's reader, no goroutine of
// its own.
func (cc *ClientConn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	s, err := cc.newStream(ctx, unaryDesc, method, opts)
	if err != nil {
		return err
	}
	if err := s.start(args, true); err != nil {
		return s.sendFailed(err)
	}
	return s.RecvMsg(reply)
}

var unaryDesc = &grpc.StreamDesc{}

// NewStream opens a stream for the three streaming shapes.
func (cc *ClientConn) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	s, err := cc.newStream(ctx, desc, method, opts)
	if err != nil {
		return nil, err
	}
	if err := s.start(nil, false); err != nil {
		return nil, s.sendFailed(err)
	}
	return s, nil
}

func (cc *ClientConn) newStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts []grpc.CallOption) (*clientStream, error) {
	if err := ctx.Err(); err != nil {
		return nil, status.FromContextError(err).Err()
	}
	var rs *rpcStats
	if h := cc.opts.stats; h != nil {
		ctx, rs = tagRPC(ctx, h, true, method)
		rs.beginEvent(desc)
	}
	t, err := cc.transport(ctx)
	if err != nil {
		rs.end(err, nil)
		return nil, err
	}
	s := newClientStream(ctx, t, desc, method, cc.opts)
	s.stats = rs
	for _, o := range opts {
		s.applyOption(o)
	}
	if err := t.register(s); err != nil {
		rs.end(err, nil)
		return nil, err
	}
	s.watch()
	return s, nil
}
