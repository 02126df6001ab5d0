package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/tethertest"
)

// TestEveryInstanceGetsItsOwnTunnel: one client over two plugin processes
// balances calls across both, and each has a callback tunnel to the host,
// so every call that one of them answers by calling back succeeds.
func TestEveryInstanceGetsItsOwnTunnel(t *testing.T) {
	t.Parallel()
	path := tethertest.Build(t, callbackPlugin)
	var eps []tether.Endpoint
	for range 2 {
		owner, err := tether.Launch(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		defer owner.Close()
		hs := owner.Handshake()
		eps = append(eps, tether.Endpoint{Network: hs.Network, Address: hs.Address})
	}
	c, err := tether.Open(t.Context(), registerStatic(eps...),
		tether.WithCallbacks(func(r grpc.ServiceRegistrar) { echov1.RegisterEchoServer(r, &hostEcho{}) }),
		tether.WithStartTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	eventually(t, 10*time.Second, "both instances admitted", func() bool {
		n := 0
		for _, in := range c.Instances() {
			if in.Admitted {
				n++
			}
		}
		return n == 2
	})
	echo, err := tether.Dispense(c, "echo", echov1.NewEchoClient)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for i := range 20 {
		text := fmt.Sprintf("relay-%d", i)
		resp, err := echo.Unary(ctx, &echov1.Message{Text: text})
		if err != nil || resp.GetText() != "plugin:host:"+text {
			t.Fatalf("call %d: %q, %v", i, resp.GetText(), err)
		}
	}
	if c.Pid() != 0 {
		t.Errorf("Pid = %d for plugins the client did not start, want 0", c.Pid())
	}
}

// TestCallbackToHostWithoutCallbacksFailsAtOnce: a host that provides no
// callbacks sends no session id, so a plugin's callback made while serving
// its call fails at once with FailedPrecondition instead of waiting out the
// call's deadline (or reaching another host).
func TestCallbackToHostWithoutCallbacksFailsAtOnce(t *testing.T) {
	t.Parallel()
	c, err := tether.Launch(t.Context(), tethertest.Build(t, callbackPlugin))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	echo, _ := tether.Dispense(c, "echo", echov1.NewEchoClient)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	start := time.Now()
	_, err = echo.Unary(ctx, &echov1.Message{Text: "relay"})
	if status.Code(err) != codes.FailedPrecondition {
		t.Errorf("call answered by a callback to a host without callbacks: %v, want FailedPrecondition", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("it took %v to fail", took)
	}
}

// TestDialOptionInterceptorSeesTypedErrors: a host's own interceptor runs
// outside tether's, so it sees the typed error of a call, and a dialer it
// sets does not replace tether's.
func TestDialOptionInterceptorSeesTypedErrors(t *testing.T) {
	t.Parallel()
	var seen error
	intercept := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		err := invoker(ctx, method, req, reply, cc, opts...)
		if method == "/tether.echo.v1.Echo/Missing" {
			seen = err
		}
		return err
	}
	badDialer := grpc.WithContextDialer(func(context.Context, string) (net.Conn, error) {
		return nil, errors.New("the host's dialer was used")
	})
	c := launchEcho(t, "", tether.WithDialOptions(grpc.WithChainUnaryInterceptor(intercept), badDialer))
	if err := c.Ping(t.Context()); err != nil {
		t.Fatalf("Ping with a host dial option that would break dialling: %v", err)
	}
	_ = c.Conn().Invoke(t.Context(), "/tether.echo.v1.Echo/Missing", &echov1.Message{}, &echov1.Message{})
	if !errors.Is(seen, tether.ErrNotImplemented) {
		t.Errorf("the host's interceptor saw %v, want the typed ErrNotImplemented", seen)
	}
}
