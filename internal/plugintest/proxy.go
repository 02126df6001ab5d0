package plugintest

import (
	"context"
	"net"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/stats"

	"github.com/tetherplug/tether/internal/grpcproxy"
)

// Proxy is a transparent proxy on a Unix socket, forwarding every call
// over ONE plaintext connection to an upstream target, as hosts behind a
// real proxy share one HTTP/2 connection to the server.
type Proxy struct {
	target string
	conns  connCounter
}

// Target is the gRPC target of the proxy's socket.
func (p *Proxy) Target() string { return p.target }

// UpstreamConns is how many connections to the upstream the proxy opened.
func (p *Proxy) UpstreamConns() int64 { return p.conns.n.Load() }

// ListenProxy starts a proxy on the socket path, forwarding to upstream; it
// is stopped at cleanup, which fails the test if it does not stop in 5 s.
func ListenProxy(t *testing.T, path, upstream string) *Proxy {
	t.Helper()
	p := &Proxy{target: "unix://" + path}
	up, err := grpc.NewClient(upstream, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithStatsHandler(&p.conns))
	if err != nil {
		t.Fatal(err)
	}
	px, err := grpcproxy.New(grpcproxy.Config{Upstream: up})
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("unix", path)
	if err != nil {
		_ = up.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = up.Close() }) // after the proxy stops: cleanups run last first
	Serve(t, "the proxy", lis, px.NewServer())
	return p
}

// connCounter counts the connections a grpc.ClientConn starts.
type connCounter struct{ n atomic.Int64 }

func (c *connCounter) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }

func (c *connCounter) HandleRPC(context.Context, stats.RPCStats) {}

func (c *connCounter) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }

func (c *connCounter) HandleConn(_ context.Context, s stats.ConnStats) {
	if _, ok := s.(*stats.ConnBegin); ok {
		c.n.Add(1)
	}
}
