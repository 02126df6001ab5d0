package fastrpc

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/plugintest"
)

const serverSockEnv = "FASTRPC_TEST_SERVE"

func TestMain(m *testing.M) {
	if path := os.Getenv(serverSockEnv); path != "" {
		serveChild(path)
		return
	}
	goleak.VerifyTestMain(m)
}

// serveChild is the child process of TestServerKilledMidCall.
func serveChild(path string) {
	lis, err := net.Listen("unix", path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	srv := NewServer()
	echov1.RegisterEchoServer(srv, plugintest.EchoServer{})
	fmt.Println("ready")
	_ = srv.Serve(lis)
}

// sockPath is a short socket path (sun_path holds about 100 bytes).
func sockPath(t testing.TB) string {
	dir, err := os.MkdirTemp("", "frpc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "s")
}

// startServer serves impl on a fresh Unix socket and returns a client for it.
func startServer(t testing.TB, impl echov1.EchoServer, sopts []ServerOption, copts ...ClientOption) (*ClientConn, *Server) {
	t.Helper()
	path := sockPath(t)
	lis, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(sopts...)
	echov1.RegisterEchoServer(srv, impl)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	cc := Dial("unix", path, copts...)
	t.Cleanup(func() {
		cc.Close()
		srv.Close()
		select {
		case <-served:
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return 5s after Close")
		}
	})
	return cc, srv
}

func echoClient(t testing.TB, sopts ...ServerOption) (echov1.EchoClient, *testEcho) {
	impl := newTestEcho()
	cc, _ := startServer(t, impl, sopts)
	return echov1.NewEchoClient(cc), impl
}

func ctxTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// testEcho is the project's echo service with a few behaviours more, chosen
// by the message's text.
type testEcho struct {
	plugintest.EchoServer
	entered chan context.Context // "stuck" calls announce their context
	release chan struct{}        // and wait for this, ignoring the context
}

func newTestEcho() *testEcho {
	return &testEcho{entered: make(chan context.Context, 64), release: make(chan struct{})}
}

func (e *testEcho) Unary(ctx context.Context, m *echov1.Message) (*echov1.Message, error) {
	switch m.GetText() {
	case "meta":
		in, _ := metadata.FromIncomingContext(ctx)
		if err := grpc.SetHeader(ctx, metadata.Pairs("h-echo", first(in["x-in"]))); err != nil {
			return nil, err
		}
		if err := grpc.SetTrailer(ctx, metadata.Pairs("t-echo", first(in["x-in"]))); err != nil {
			return nil, err
		}
	case "details":
		st, err := status.New(codes.FailedPrecondition, "the echo is not ready").WithDetails(&echov1.Message{Text: "why: warming up"})
		if err != nil {
			return nil, err
		}
		return nil, st.Err()
	case "stuck":
		e.entered <- ctx
		<-e.release
	case "big":
		return &echov1.Message{Payload: make([]byte, m.GetCount())}, nil
	}
	return e.EchoServer.Unary(ctx, m)
}

func first(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

// wantCode fails the test unless err carries code c.
func wantCode(t testing.TB, err error, c codes.Code) *status.Status {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok || st.Code() != c {
		t.Fatalf("error %v: want code %v", err, c)
	}
	return st
}

// recvCtx waits for a value on ch or fails after d.
func recvCtx[T any](t testing.TB, ch <-chan T, d time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatalf("after %v: no %s", d, what)
		panic("unreachable")
	}
}
