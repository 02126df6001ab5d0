// Package proxy is a small transparent gRPC proxy for tests: it accepts
// calls on a Unix socket and forwards every one of them, whatever its method
// and shape (unary, client, server or bidirectional streams), over ONE
// upstream connection, with metadata both ways, deadlines, cancellation and
// status. Several clients of the proxy thus share one HTTP/2 connection to
// the upstream server, as hosts behind a real proxy do.
package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
)

// Proxy forwards calls from its socket to one upstream connection.
type Proxy struct {
	upstream *grpc.ClientConn
	server   *grpc.Server
	lis      net.Listener
	served   chan error
	conns    connCounter
}

// Listen starts a proxy on the Unix socket path, forwarding to target (a
// gRPC target such as "unix:///path/plugin.sock") over one plaintext
// connection.
func Listen(path, target string) (*Proxy, error) {
	p := &Proxy{served: make(chan error, 1)}
	up, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithStatsHandler(&p.conns))
	if err != nil {
		return nil, err
	}
	lis, err := net.Listen("unix", path)
	if err != nil {
		_ = up.Close()
		return nil, err
	}
	p.upstream, p.lis = up, lis
	p.server = grpc.NewServer(grpc.UnknownServiceHandler(p.forward), grpc.ForceServerCodec(rawCodec{}))
	go func() { p.served <- p.server.Serve(lis) }()
	return p, nil
}

// Addr is the proxy's socket path.
func (p *Proxy) Addr() string { return p.lis.Addr().String() }

// Target is the gRPC target of the proxy ("unix://" and its socket path).
func (p *Proxy) Target() string { return "unix://" + p.Addr() }

// UpstreamConns is how many connections to the upstream server the proxy
// has opened so far (one, unless the first was lost and replaced).
func (p *Proxy) UpstreamConns() int64 { return p.conns.n.Load() }

// connCounter counts the upstream connections' starts.
type connCounter struct{ n atomic.Int64 }

func (c *connCounter) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }

func (c *connCounter) HandleRPC(context.Context, stats.RPCStats) {}

func (c *connCounter) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }

func (c *connCounter) HandleConn(_ context.Context, s stats.ConnStats) {
	if _, ok := s.(*stats.ConnBegin); ok {
		c.n.Add(1)
	}
}

// Close stops the proxy, cutting off the calls in flight, and closes the
// upstream connection.
func (p *Proxy) Close() error {
	p.server.Stop()
	<-p.served
	return p.upstream.Close()
}

// frame is one message, forwarded as it came.
type frame struct{ data []byte }

// rawCodec passes messages through as bytes. It is named "proto" so that
// both sides see the content type they expect.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) {
	f, ok := v.(*frame)
	if !ok {
		return nil, status.Errorf(codes.Internal, "proxy: cannot marshal %T", v)
	}
	return f.data, nil
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	f, ok := v.(*frame)
	if !ok {
		return status.Errorf(codes.Internal, "proxy: cannot unmarshal into %T", v)
	}
	f.data = append(f.data[:0], data...)
	return nil
}

func (rawCodec) Name() string { return "proto" }

var _ encoding.Codec = rawCodec{}

// forward relays one call of any shape to the upstream connection.
func (p *Proxy) forward(_ any, down grpc.ServerStream) error {
	method, ok := grpc.MethodFromServerStream(down)
	if !ok {
		return status.Error(codes.Internal, "proxy: call without a method")
	}
	ctx, cancel := context.WithCancel(down.Context()) // carries the caller's deadline and cancellation
	defer cancel()
	in, _ := metadata.FromIncomingContext(ctx)
	out := metadata.MD{}
	for k, vs := range in {
		if !strings.HasPrefix(k, ":") { // pseudo-headers belong to each hop
			out[k] = vs
		}
	}
	up, err := p.upstream.NewStream(metadata.NewOutgoingContext(ctx, out),
		&grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, method, grpc.ForceCodec(rawCodec{}))
	if err != nil {
		return err
	}
	sent := make(chan error, 1)
	go func() { sent <- pump(down.RecvMsg, up.SendMsg, up.CloseSend) }()
	if md, err := up.Header(); err == nil && len(md) > 0 {
		if err := down.SendHeader(md); err != nil {
			return err
		}
	}
	err = pump(up.RecvMsg, down.SendMsg, func() error { return nil })
	down.SetTrailer(up.Trailer())
	if err != nil {
		return err // the upstream's status, passed on as it is
	}
	// The upstream answered in full; the caller's side may still be
	// sending (it will get the status and stop).
	return nil
}

// pump copies messages from recv to send until recv ends; at io.EOF it
// calls done and returns nil.
func pump(recv, send func(any) error, done func() error) error {
	for {
		f := &frame{}
		if err := recv(f); err != nil {
			if errors.Is(err, io.EOF) {
				return done()
			}
			return err
		}
		if err := send(f); err != nil {
			if errors.Is(err, io.EOF) {
				return nil // the other side ended; its status comes from RecvMsg
			}
			return err
		}
	}
}
