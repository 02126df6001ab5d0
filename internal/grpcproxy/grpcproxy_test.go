package grpcproxy_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/tetherplug/tether/internal/grpcproxy"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/plugintest"
)

// metaEcho is the echo server, whose Unary also returns the caller's
// "x-in" metadata as header "x-hdr" and trailer "x-trl".
// A Unary call with a delay also sends what its context held when it
// ended (the deadline left when it started, and its error) on ended.
type metaEcho struct {
	plugintest.EchoServer
	ended   chan string
	started chan struct{} // a delayed Unary call began
}

func (e metaEcho) Unary(ctx context.Context, m *echov1.Message) (*echov1.Message, error) {
	if m.GetDelayMs() > 0 {
		select {
		case e.started <- struct{}{}:
		default:
		}
		d, ok := ctx.Deadline()
		defer func() { e.ended <- fmt.Sprint(ok && time.Until(d) < time.Second, " ", ctx.Err()) }()
	}
	md, _ := metadata.FromIncomingContext(ctx)
	if m.GetText() == "details" {
		st, _ := status.New(codes.ResourceExhausted, "slow down").WithDetails(durationpb.New(7 * time.Second))
		_ = grpc.SetTrailer(ctx, metadata.Pairs("x-trl", "t-"+first(md["x-in"])))
		return nil, st.Err()
	}
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

// upstreamConns counts the connections a grpc.ClientConn starts.
type upstreamConns struct{ n atomic.Int64 }

func (c *upstreamConns) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }

func (c *upstreamConns) HandleRPC(context.Context, stats.RPCStats) {}

func (c *upstreamConns) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return ctx
}

func (c *upstreamConns) HandleConn(_ context.Context, s stats.ConnStats) {
	if _, ok := s.(*stats.ConnBegin); ok {
		c.n.Add(1)
	}
}

// setup starts an echo server, a proxy to it with the hooks of cfg, and two
// clients of the proxy.
func setup(t *testing.T, cfg grpcproxy.Config) (*countingListener, *upstreamConns, []echov1.EchoClient, metaEcho) {
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
	echo := metaEcho{ended: make(chan string, 1), started: make(chan struct{}, 1)}
	echov1.RegisterEchoServer(srv, echo)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	counted := &upstreamConns{}
	up, err := grpc.NewClient("unix://"+inner.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithStatsHandler(counted))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Upstream = up
	p, err := grpcproxy.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	plis, err := net.Listen("unix", filepath.Join(dir, "proxy.sock"))
	if err != nil {
		t.Fatal(err)
	}
	psrv := p.NewServer()
	pserved := make(chan error, 1)
	go func() { pserved <- psrv.Serve(plis) }()
	var clients []echov1.EchoClient
	var conns []*grpc.ClientConn
	for range 2 {
		cc, err := grpc.NewClient("unix://"+plis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
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
		psrv.Stop()
		if err := recvErr(pserved); err != nil {
			t.Errorf("proxy Serve: %v", err)
		}
		if err := up.Close(); err != nil {
			t.Errorf("upstream Close: %v", err)
		}
		srv.Stop()
		_ = recvErr(served)
		os.RemoveAll(dir)
		goleak.VerifyNone(t)
	})
	return lis, counted, clients, echo
}

// recvErr receives from c, and fails with a timeout error after 5 s.
func recvErr(c <-chan error) error {
	select {
	case err := <-c:
		return err
	case <-time.After(5 * time.Second):
		return fmt.Errorf("no answer within 5 s")
	}
}

func TestProxyForwardsEveryShapeOverOneConnection(t *testing.T) {
	lis, p, clients, _ := setup(t, grpcproxy.Config{})
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
	if got := p.n.Load(); got != 1 {
		t.Errorf("the proxy counted %d upstream connections; the upstream accepted 1", got)
	}
}

func TestProxyPassesStatusAndDeadline(t *testing.T) {
	_, _, clients, echo := setup(t, grpcproxy.Config{})
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
	case got := <-echo.ended:
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

// TestProxyPassesStatusDetailsAndErrorTrailers: an upstream error comes
// back with its code, message and details, and the trailers sent with it.
func TestProxyPassesStatusDetailsAndErrorTrailers(t *testing.T) {
	_, _, clients, _ := setup(t, grpcproxy.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var trl metadata.MD
	_, err := clients[0].Unary(metadata.AppendToOutgoingContext(ctx, "x-in", "e"), &echov1.Message{Text: "details"}, grpc.Trailer(&trl))
	st := status.Convert(err)
	if st.Code() != codes.ResourceExhausted || st.Message() != "slow down" {
		t.Fatalf("upstream's error came back as %v", err)
	}
	if ds := st.Details(); len(ds) != 1 {
		t.Errorf("details %v, want the one RetryInfo-like duration", ds)
	} else if d, ok := ds[0].(*durationpb.Duration); !ok || d.AsDuration() != 7*time.Second {
		t.Errorf("detail %v, want 7s", ds[0])
	}
	if first(trl["x-trl"]) != "t-e" {
		t.Errorf("trailer %v with the error, want x-trl t-e", trl)
	}
}

// TestProxyHooks: an answered method never reaches the upstream and
// answers with ordinary messages; a refused one fails PermissionDenied
// with its reason; the others still pass.
func TestProxyHooks(t *testing.T) {
	answered := "/tether.echo.v1.Echo/Unary"
	_, _, clients, _ := setup(t, grpcproxy.Config{
		Answer: map[string]grpc.StreamHandler{answered: func(_ any, s grpc.ServerStream) error {
			var m echov1.Message
			if err := s.RecvMsg(&m); err != nil {
				return err
			}
			return s.SendMsg(&echov1.Message{Text: "proxy:" + m.GetText()})
		}},
		Refuse: map[string]string{"/tether.echo.v1.Echo/Bidi": "only the launching host may"},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if m, err := clients[0].Unary(ctx, &echov1.Message{Text: "hi"}); err != nil || m.GetText() != "proxy:hi" {
		t.Errorf("answered Unary: %v, %v; want the proxy's own answer", m, err)
	}
	bs, err := clients[0].Bidi(ctx)
	if err == nil {
		_, err = bs.Recv()
	}
	if st := status.Convert(err); st.Code() != codes.PermissionDenied || !strings.Contains(st.Message(), "only the launching host may") {
		t.Errorf("refused Bidi: %v, want PermissionDenied with the reason", err)
	}
	cs, err := clients[1].ClientStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.Send(&echov1.Message{Text: "z"}); err != nil {
		t.Fatal(err)
	}
	if m, err := cs.CloseAndRecv(); err != nil || m.GetText() != "z" {
		t.Errorf("forwarded ClientStream beside the hooks: %v, %v", m, err)
	}
}

// TestProxyPassesCancellation: a caller that cancels ends the upstream
// handler's call at once.
func TestProxyPassesCancellation(t *testing.T) {
	_, _, clients, echo := setup(t, grpcproxy.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	call, stop := context.WithCancel(ctx)
	errs := make(chan error, 1)
	go func() {
		_, err := clients[0].Unary(call, &echov1.Message{DelayMs: 5000})
		errs <- err
	}()
	select {
	case <-echo.started:
	case <-time.After(5 * time.Second):
		t.Fatal("the call did not reach the upstream within 5 s")
	}
	stop()
	if err := recvErr(errs); status.Code(err) != codes.Canceled {
		t.Errorf("cancelled call: %v, want Canceled", err)
	}
	select {
	case got := <-echo.ended:
		if !strings.HasSuffix(got, "context canceled") {
			t.Errorf("upstream handler ended with %q, want its context cancelled", got)
		}
	case <-time.After(4 * time.Second):
		t.Fatal("the upstream handler still runs 4 s after its caller cancelled")
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	if _, err := grpcproxy.New(grpcproxy.Config{}); err == nil {
		t.Error("New without an upstream: no error")
	}
}
