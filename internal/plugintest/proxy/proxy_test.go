package proxy_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/plugintest"
	"github.com/tetherplug/tether/internal/plugintest/proxy"
)

// metaEcho is the echo server, whose Unary also returns the caller's
// "x-in" metadata as header "x-hdr" and trailer "x-trl".
// A Unary call with a delay also sends what its context held when it
// ended (the deadline left when it started, and its error) on ended.
type metaEcho struct {
	plugintest.EchoServer
	ended chan string
}

func (e metaEcho) Unary(ctx context.Context, m *echov1.Message) (*echov1.Message, error) {
	if m.GetDelayMs() > 0 {
		d, ok := ctx.Deadline()
		defer func() { e.ended <- fmt.Sprint(ok && time.Until(d) < time.Second, " ", ctx.Err()) }()
	}
	md, _ := metadata.FromIncomingContext(ctx)
	_ = grpc.SetHeader(ctx, metadata.Pairs("x-hdr", "h-"+first(md["x-in"])))
	_ = grpc.SetTrailer(ctx, metadata.Pairs("x-trl", "t-"+first(md["x-in"])))
	return e.EchoServer.Unary(ctx, m)
}

func first(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

// countingListener counts the connections it accepts.
type countingListener struct {
	net.Listener
	n atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// setup starts an echo server, a proxy to it, and two clients of the proxy.
func setup(t *testing.T) (*countingListener, *proxy.Proxy, []echov1.EchoClient, chan string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "proxy-")
	if err != nil {
		t.Fatal(err)
	}
	inner, err := net.Listen("unix", filepath.Join(dir, "up.sock"))
	if err != nil {
		t.Fatal(err)
	}
	lis := &countingListener{Listener: inner}
	srv := grpc.NewServer()
	ended := make(chan string, 1)
	echov1.RegisterEchoServer(srv, metaEcho{ended: ended})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	p, err := proxy.Listen(filepath.Join(dir, "proxy.sock"), "unix://"+inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	var clients []echov1.EchoClient
	var conns []*grpc.ClientConn
	for range 2 {
		cc, err := grpc.NewClient(p.Target(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, cc)
		clients = append(clients, echov1.NewEchoClient(cc))
	}
	t.Cleanup(func() {
		for _, cc := range conns {
			cc.Close()
		}
		if err := p.Close(); err != nil {
			t.Errorf("proxy Close: %v", err)
		}
		srv.Stop()
		<-served
		os.RemoveAll(dir)
		goleak.VerifyNone(t)
	})
	return lis, p, clients, ended
}

func TestProxyForwardsEveryShapeOverOneConnection(t *testing.T) {
	lis, p, clients, _ := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i, c := range clients {
		var hdr, trl metadata.MD
		m, err := c.Unary(metadata.AppendToOutgoingContext(ctx, "x-in", "v"), &echov1.Message{Text: "hi"},
			grpc.Header(&hdr), grpc.Trailer(&trl))
		if err != nil || m.GetText() != "hi" {
			t.Fatalf("client %d Unary: %v, %v", i, m, err)
		}
		if first(hdr["x-hdr"]) != "h-v" || first(trl["x-trl"]) != "t-v" {
			t.Errorf("client %d: header %v, trailer %v: metadata did not make the round trip", i, hdr, trl)
		}
	}
	ss, err := clients[0].ServerStream(ctx, &echov1.Message{Text: "s", Count: 3})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for ; ; n++ {
		if _, err := ss.Recv(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if n != 3 {
		t.Errorf("server stream: %d messages, want 3", n)
	}
	cs, err := clients[1].ClientStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"a", "b", "c"} {
		if err := cs.Send(&echov1.Message{Text: s}); err != nil {
			t.Fatal(err)
		}
	}
	if m, err := cs.CloseAndRecv(); err != nil || m.GetText() != "abc" {
		t.Errorf("client stream: %v, %v", m, err)
	}
	bs, err := clients[0].Bidi(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"x", "y"} {
		if err := bs.Send(&echov1.Message{Text: s}); err != nil {
			t.Fatal(err)
		}
		if m, err := bs.Recv(); err != nil || m.GetText() != s {
			t.Fatalf("bidi: %v, %v", m, err)
		}
	}
	if err := bs.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := bs.Recv(); err != io.EOF {
		t.Errorf("bidi after CloseSend: %v, want EOF", err)
	}
	if got := lis.n.Load(); got != 1 {
		t.Errorf("the upstream accepted %d connections, want 1 shared by both clients", got)
	}
	if got := p.UpstreamConns(); got != 1 {
		t.Errorf("the proxy counted %d upstream connections; the upstream accepted 1", got)
	}
}

func TestProxyPassesStatusAndDeadline(t *testing.T) {
	_, _, clients, ended := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := clients[0].Unary(ctx, &echov1.Message{Text: plugintest.UnavailableText})
	if status.Code(err) != codes.Unavailable {
		t.Errorf("upstream's Unavailable came back as %v", err)
	}
	short, stop := context.WithTimeout(ctx, 100*time.Millisecond)
	defer stop()
	start := time.Now()
	_, err = clients[0].Unary(short, &echov1.Message{DelayMs: 5000})
	if status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("call past its deadline: %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("call with a 100 ms deadline took %v", d)
	}
	select {
	case got := <-ended:
		// The deadline must reach the handler; its context then ends by
		// that deadline or by the proxy's cancellation when the caller's
		// own deadline passes, a moment earlier: either is right.
		if got != "true context deadline exceeded" && got != "true context canceled" {
			t.Errorf("upstream handler: deadline set and its end: %q, want the caller's deadline to reach it", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream handler did not end within 5 s of its caller's deadline")
	}
	_, err = clients[1].Unary(ctx, &echov1.Message{Text: "after"})
	if err != nil {
		t.Errorf("call after the others: %v", err)
	}
}
