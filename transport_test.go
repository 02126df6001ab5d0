package tether_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/peer"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/plugintest"
)

// peerOf returns the address a call reached: the plugin's gRPC socket or
// its fast transport's.
func peerOf(t *testing.T, echo echov1.EchoClient) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var p peer.Peer
	if _, err := echo.Unary(ctx, &echov1.Message{Payload: []byte("hi")}, grpc.Peer(&p)); err != nil {
		t.Fatalf("Unary: %v", err)
	}
	if p.Addr == nil {
		t.Fatal("the call reported no peer")
	}
	return p.Addr.String()
}

func launchEcho(t *testing.T, opts ...tether.Option) (*tether.Client, echov1.EchoClient) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := tether.Launch(ctx, echoPath(t), append([]tether.Option{tether.WithInterface("echo", 1, 2)}, opts...)...)
	if err != nil {
		t.Fatalf("Launch: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	echo, err := tether.Dispense(c, "echo", echov1.NewEchoClient)
	if err != nil {
		t.Fatalf("Dispense: %v", err)
	}
	return c, echo
}

func TestFastTransportIsTheDefaultForLaunchedPlugins(t *testing.T) {
	t.Setenv(tether.EnvTransport, "")
	c, echo := launchEcho(t)
	if got := c.Transport(); got != tether.TransportFast {
		t.Fatalf("Transport() = %q, want %q", got, tether.TransportFast)
	}
	if addr := peerOf(t, echo); !strings.HasSuffix(addr, ".fast.sock") {
		t.Fatalf("the call reached %s, not the plugin's fast socket", addr)
	}
	// Every shape of call works over it.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	bidi, err := echo.Bidi(ctx)
	if err != nil {
		t.Fatalf("Bidi: %v", err)
	}
	for i := range 3 {
		if err := bidi.Send(&echov1.Message{Payload: []byte{byte(i)}}); err != nil {
			t.Fatalf("Send: %v", err)
		}
		m, err := bidi.Recv()
		if err != nil || m.Payload[0] != byte(i) {
			t.Fatalf("Recv = %v, %v", m, err)
		}
	}
	_ = bidi.CloseSend()
	if _, err := bidi.Recv(); err != io.EOF {
		t.Fatalf("Recv after CloseSend = %v, want io.EOF", err)
	}
	// Ping and Implements still use gRPC's services.
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if ok, err := c.Implements(ctx, "/grpc.health.v1.Health/Check"); err != nil || !ok {
		t.Fatalf("Implements(health) = %v, %v", ok, err)
	}
}

func TestTransportTurnedOff(t *testing.T) {
	cases := []struct {
		name string
		env  string
		opts []tether.Option
	}{
		{"option", "", []tether.Option{tether.WithTransport(tether.TransportGRPC)}},
		{"environment", "grpc", nil},
		{"environment beats option", "grpc", []tether.Option{tether.WithTransport(tether.TransportFast)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(tether.EnvTransport, tc.env)
			c, echo := launchEcho(t, tc.opts...)
			if got := c.Transport(); got != tether.TransportGRPC {
				t.Fatalf("Transport() = %q, want grpc", got)
			}
			if addr := peerOf(t, echo); strings.HasSuffix(addr, ".fast.sock") {
				t.Fatalf("the call reached the fast socket %s", addr)
			}
		})
	}
}

func TestTransportBadValues(t *testing.T) {
	t.Setenv(tether.EnvTransport, "quick")
	_, err := tether.Launch(context.Background(), echoPath(t), tether.WithInterface("echo", 1))
	if !errors.Is(err, tether.ErrBadTarget) || !strings.Contains(err.Error(), `TETHER_TRANSPORT="quick": want "fast" or "grpc"`) {
		t.Fatalf("Launch = %v, want ErrBadTarget naming the variable", err)
	}
	t.Setenv(tether.EnvTransport, "")
	_, err = tether.Launch(context.Background(), echoPath(t), tether.WithTransport("h3"))
	if !errors.Is(err, tether.ErrBadTarget) || !strings.Contains(err.Error(), `WithTransport("h3")`) {
		t.Fatalf("Launch = %v, want ErrBadTarget naming the option", err)
	}
}

func TestDialOptionsKeepThePluginOnGRPCAndSayWhy(t *testing.T) {
	t.Setenv(tether.EnvTransport, "")
	log, rec := plugintest.NewLogRecorder()
	var seen atomic.Int32
	count := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		seen.Add(1)
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	c, echo := launchEcho(t, tether.WithLogger(log), tether.WithDialOptions(grpc.WithChainUnaryInterceptor(count)))
	if got := c.Transport(); got != tether.TransportGRPC {
		t.Fatalf("Transport() = %q, want grpc", got)
	}
	peerOf(t, echo)
	if seen.Load() == 0 {
		t.Fatal("the dial option's interceptor saw no call")
	}
	r, ok := rec.Find("fast transport off: calls use gRPC")
	if !ok || !strings.Contains(r.Attrs["reason"], "WithDialOptions") {
		t.Fatalf("no log record says why the fast transport is off: %+v", rec.All())
	}
}

func TestClientInterceptorsRunOnBothTransports(t *testing.T) {
	for _, tr := range []tether.Transport{tether.TransportFast, tether.TransportGRPC} {
		t.Run(string(tr), func(t *testing.T) {
			t.Setenv(tether.EnvTransport, "")
			var unary, streams atomic.Int32
			var sawTyped atomic.Bool
			ui := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
				unary.Add(1)
				err := invoker(ctx, method, req, reply, cc, opts...)
				if errors.Is(err, tether.ErrNotImplemented) {
					sawTyped.Store(true)
				}
				return err
			}
			si := func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
				streams.Add(1)
				return streamer(ctx, desc, cc, method, opts...)
			}
			c, echo := launchEcho(t, tether.WithTransport(tr), tether.WithUnaryInterceptors(ui), tether.WithStreamInterceptors(si))
			if got := c.Transport(); got != tr {
				t.Fatalf("Transport() = %q, want %q", got, tr)
			}
			peerOf(t, echo)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s, err := echo.ServerStream(ctx, &echov1.Message{Count: 2})
			if err != nil {
				t.Fatalf("ServerStream: %v", err)
			}
			for {
				if _, err := s.Recv(); err == io.EOF {
					break
				} else if err != nil {
					t.Fatalf("Recv: %v", err)
				}
			}
			err = c.Conn().Invoke(ctx, "/tether.echo.v1.Echo/Missing", &echov1.Message{}, &echov1.Message{})
			if !errors.Is(err, tether.ErrNotImplemented) {
				t.Fatalf("a missing method = %v, want ErrNotImplemented", err)
			}
			if unary.Load() != 2 || streams.Load() != 1 || !sawTyped.Load() {
				t.Fatalf("interceptors saw %d unary calls and %d streams (typed error seen: %v), want 2, 1, true",
					unary.Load(), streams.Load(), sawTyped.Load())
			}
		})
	}
}

func TestRetriedMethodsStayOnGRPC(t *testing.T) {
	t.Setenv(tether.EnvTransport, "")
	c, echo := launchEcho(t, tether.WithRetry(tether.RetryPolicy{}, "tether.echo.v1.Echo/Unary"))
	if got := c.Transport(); got != tether.TransportFast {
		t.Fatalf("Transport() = %q, want fast for the methods without a retry policy", got)
	}
	if addr := peerOf(t, echo); strings.HasSuffix(addr, ".fast.sock") {
		t.Fatalf("a call with a retry policy reached the fast socket %s", addr)
	}
	var p peer.Peer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := echo.ServerStream(ctx, &echov1.Message{Count: 1}, grpc.Peer(&p))
	if err != nil {
		t.Fatal(err)
	}
	for err == nil {
		_, err = s.Recv()
	}
	if addr, ok := p.Addr.(*net.UnixAddr); !ok || !strings.HasSuffix(addr.Name, ".fast.sock") {
		t.Fatalf("a call without a retry policy reached %v, not the fast socket", p.Addr)
	}
}
