package interop_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/compat/internal/counter"
	"github.com/tetherplug/tether/goplugin"
	"github.com/tetherplug/tether/internal/autotls"
)

const goPluginCounter = "github.com/tetherplug/tether/compat/internal/gpcounter"

// counterHandshake is the counter application's handshake in tether's terms.
var counterHandshake = tether.HandshakeConfig{ProtocolVersion: counter.ProtocolVersion,
	MagicCookieKey: counter.CookieKey, MagicCookieValue: counter.CookieValue}

// adder is the host's AddHelper; it counts the calls that reach it.
type adder struct{ calls atomic.Int64 }

func (a *adder) Sum(_ context.Context, x, y int64) (int64, error) {
	a.calls.Add(1)
	return x + y, nil
}

// launchCounter launches the go-plugin counter plugin with opts and
// returns its client, its Counter, and its socket directory.
func launchCounter(t *testing.T, ctx context.Context, opts ...tether.Option) (*tether.Client, counter.CounterClient, string) {
	t.Helper()
	c, cc, dir, _ := launchCounterPID(t, ctx, opts...)
	return c, cc, dir
}

// launchCounterPID is launchCounter that also returns the plugin's pid.
func launchCounterPID(t *testing.T, ctx context.Context, opts ...tether.Option) (*tether.Client, counter.CounterClient, string, int) {
	t.Helper()
	var started atomic.Value
	opts = append([]tether.Option{tether.WithHandshake(counterHandshake), tether.WithInterface("counter", 1),
		tether.WithOnStart(func(p tether.StartedProcess) { started.Store(p) })}, opts...)
	c, err := tether.Launch(ctx, build(t, goPluginCounter), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	cc, err := tether.Dispense(c, "counter", counter.NewCounterClient)
	if err != nil {
		t.Fatal(err)
	}
	p := started.Load().(tether.StartedProcess)
	return c, cc, p.SocketDir, p.Pid
}

// sockets lists the socket files in dir.
func sockets(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.Type()&os.ModeSocket != 0 {
			out = append(out, e.Name())
		}
	}
	return out
}

// receive waits for ch at most d.
func receive[T any](t *testing.T, ch <-chan T, d time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatalf("%s: nothing within %v", what, d)
		var zero T
		return zero
	}
}

// A go-plugin plugin that calls its host back through go-plugin's broker
// (the shape of go-plugin's examples/bidirectional) works in a tether host,
// in classic and multiplexed mode, with and without automatic mutual TLS:
// the plugin dials the host's brokered AddHelper, the host dials the
// plugin's brokered Counter, and closing leaves no socket behind.
func TestBrokerBidirectional(t *testing.T) {
	modes := []struct {
		name        string
		opts        []tether.Option
		multiplexed bool
	}{
		{"classic", []tether.Option{goplugin.WithBroker()}, false},
		{"classic-mtls", []tether.Option{goplugin.WithBroker(), tether.WithAutoMTLS()}, false},
		{"multiplexed", []tether.Option{goplugin.WithMultiplexedBroker()}, true},
		{"multiplexed-mtls", []tether.Option{goplugin.WithMultiplexedBroker(), tether.WithAutoMTLS()}, true},
	}
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			c, cc, dir := launchCounter(t, ctx, mode.opts...)
			if got := c.Handshake().Multiplex; got != mode.multiplexed {
				t.Errorf("handshake multiplex = %v, want %v", got, mode.multiplexed)
			}
			b, err := goplugin.Broker(c)
			if err != nil {
				t.Fatal(err)
			}
			if again, err := goplugin.Broker(c); err != nil || again != b {
				t.Errorf("Broker again = %p, %v; want the same broker %p", again, err, b)
			}
			served := putThroughHost(t, ctx, b, cc)
			want := 2 // classic mode: one socket per AcceptAndServe, in the plugin's directory
			if mode.multiplexed {
				want = 0
			}
			if got := hostSockets(t, dir); len(got) != want {
				t.Errorf("host's brokered sockets in %s = %v, want %d", dir, got, want)
			}
			getThroughPlugin(t, ctx, b, cc)
			if all := sockets(t, dir); mode.multiplexed && len(all) != 1 {
				t.Errorf("multiplexed mode: sockets in %s = %v, want the plugin's one listener", dir, all)
			}
			closeBroker(t, b, served, dir)
			if err := c.Close(); err != nil {
				t.Errorf("client Close: %v", err)
			}
			if left := sockets(t, dir); len(left) != 0 {
				t.Errorf("sockets left in %s after the client's Close: %v", dir, left)
			}
		})
	}
}

// putThroughHost calls Put twice, each time with the id of a new AddHelper
// the host serves with AcceptAndServe, and checks the sums and that the
// host's AddHelper served them. It returns AcceptAndServe's results.
func putThroughHost(t *testing.T, ctx context.Context, b *goplugin.GRPCBroker, cc counter.CounterClient) <-chan error {
	t.Helper()
	helper := &adder{}
	served := make(chan error, 2)
	for i, step := range []struct{ add, want int64 }{{5, 5}, {7, 12}} {
		id := b.NextId()
		go func() {
			served <- b.AcceptAndServe(id, func(opts []grpc.ServerOption) *grpc.Server {
				s := grpc.NewServer(opts...)
				counter.RegisterAddHelper(s, helper)
				return s
			})
		}()
		got, err := cc.Put(ctx, "apples", step.add, id)
		if err != nil || got != step.want {
			t.Fatalf("Put #%d (+%d) = %d, %v; want %d", i, step.add, got, err, step.want)
		}
	}
	if n := helper.calls.Load(); n != 2 {
		t.Errorf("the host's AddHelper served %d calls, want 2 (one per Put)", n)
	}
	return served
}

// getThroughPlugin has the plugin serve a brokered Counter (Share), dials
// it, and reads what putThroughHost stored.
func getThroughPlugin(t *testing.T, ctx context.Context, b *goplugin.GRPCBroker, cc counter.CounterClient) {
	t.Helper()
	id, err := cc.Share(ctx)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := b.Dial(id)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := counter.NewCounterClient(conn).Get(ctx, "apples"); err != nil || v != 12 {
		t.Errorf("Get through the plugin's brokered Counter = %d, %v; want 12", v, err)
	}
}

// closeBroker closes b and checks that its servers stopped, its sockets
// are gone from dir and it refuses to dial.
func closeBroker(t *testing.T, b *goplugin.GRPCBroker, served <-chan error, dir string) {
	t.Helper()
	if err := b.Close(); err != nil {
		t.Errorf("broker Close: %v", err)
	}
	for range 2 {
		if err := receive(t, served, 10*time.Second, "AcceptAndServe after Close"); err != nil {
			t.Errorf("AcceptAndServe = %v after Close, want nil", err)
		}
	}
	if left := hostSockets(t, dir); len(left) != 0 {
		t.Errorf("host sockets left in %s after the broker's Close: %v", dir, left)
	}
	if _, err := b.Dial(b.NextId()); !errors.Is(err, goplugin.ErrBrokerClosed) {
		t.Errorf("Dial after Close = %v, want ErrBrokerClosed", err)
	}
}

// hostSockets lists the host's brokered sockets in dir (the plugin's own
// are named plugin*).
func hostSockets(t *testing.T, dir string) []string {
	t.Helper()
	return slices.DeleteFunc(sockets(t, dir), func(s string) bool { return strings.HasPrefix(s, "plugin") })
}

// Closing the client closes its broker: the host's brokered servers stop
// and their sockets are gone when Close returns.
func TestBrokerClosedWithClient(t *testing.T) {
	for _, opt := range []tether.Option{goplugin.WithBroker(), goplugin.WithMultiplexedBroker()} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, _, dir := launchCounter(t, ctx, opt)
		b, err := goplugin.Broker(c)
		if err != nil {
			t.Fatal(err)
		}
		served := make(chan error, 1)
		ln, err := b.Accept(b.NextId())
		if err != nil {
			t.Fatal(err)
		}
		go func() { _, err := ln.Accept(); served <- err }()
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if err := receive(t, served, 10*time.Second, "Accept after the client's Close"); err == nil {
			t.Error("the brokered listener still accepts after the client's Close")
		}
		if left := sockets(t, dir); len(left) != 0 {
			t.Errorf("sockets left in %s after Close: %v", dir, left)
		}
		if _, err := b.Accept(b.NextId()); !errors.Is(err, goplugin.ErrBrokerClosed) {
			t.Errorf("Accept after the client's Close = %v, want ErrBrokerClosed", err)
		}
		if _, err := goplugin.Broker(c); err == nil {
			t.Error("Broker of a closed client succeeded")
		}
	}
}

// Dial of an id the plugin never serves fails after DialTimeout, in both
// modes, with ErrDialTimeout.
func TestBrokerDialTimeout(t *testing.T) {
	for _, mode := range []struct {
		name string
		opt  tether.Option
	}{{"classic", goplugin.WithBroker()}, {"multiplexed", goplugin.WithMultiplexedBroker()}} {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c, _, _ := launchCounter(t, ctx, mode.opt)
			b, err := goplugin.Broker(c)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_, err = b.Dial(4242)
			if !errors.Is(err, goplugin.ErrDialTimeout) || !strings.Contains(err.Error(), "4242") {
				t.Errorf("Dial of an id never served = %v, want ErrDialTimeout naming the id", err)
			}
			if d := time.Since(start); d < goplugin.DialTimeout || d > goplugin.DialTimeout+5*time.Second {
				t.Errorf("Dial gave up after %v, want about %v", d, goplugin.DialTimeout)
			}
		})
	}
}

// The broker is refused, with a typed error, for a tether plugin and for a
// go-plugin plugin launched without it.
func TestBrokerRefused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := tether.Launch(ctx, build(t, tetherGreeter), tether.WithHandshake(tetherHandshake),
		tether.WithInterface("greeter", 1), goplugin.WithBroker())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := goplugin.Broker(c); !errors.Is(err, goplugin.ErrNotGoPlugin) {
		t.Errorf("Broker of a tether plugin = %v, want ErrNotGoPlugin", err)
	}

	plain, _, _ := launchCounter(t, ctx)
	if _, err := goplugin.Broker(plain); !errors.Is(err, goplugin.ErrBrokerNotEnabled) || !strings.Contains(err.Error(), "goplugin.WithBroker") {
		t.Errorf("Broker of a plugin launched without WithBroker = %v, want ErrBrokerNotEnabled naming the option", err)
	}
}

// Multiplexing asked of a plugin that does not offer it (go-plugin older
// than v1.6, a tether plugin) fails the launch with
// ErrGRPCBrokerMuxNotSupported naming the variable.
func TestBrokerMultiplexNotSupported(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, tc := range []struct {
		name string
		path string
		opts []tether.Option
	}{
		{"old go-plugin", build(t, goPluginCounter), []tether.Option{tether.WithHandshake(counterHandshake),
			tether.WithInterface("counter", 1), tether.WithEnv("COUNTER_HIDE_MULTIPLEX=1")}},
		{"tether plugin", build(t, tetherGreeter), []tether.Option{tether.WithHandshake(tetherHandshake),
			tether.WithInterface("greeter", 1)}},
	} {
		c, err := tether.Launch(ctx, tc.path, append(tc.opts, goplugin.WithMultiplexedBroker())...)
		if err == nil {
			_ = c.Close()
			t.Errorf("%s: multiplexed broker: loaded, want an error", tc.name)
			continue
		}
		if !errors.Is(err, goplugin.ErrGRPCBrokerMuxNotSupported) || !errors.Is(err, tether.ErrIncompatibleVersion) {
			t.Errorf("%s: %v; want ErrGRPCBrokerMuxNotSupported and ErrIncompatibleVersion", tc.name, err)
		}
		if !strings.Contains(err.Error(), "PLUGIN_MULTIPLEX_GRPC") {
			t.Errorf("%s: %v; want the error to name PLUGIN_MULTIPLEX_GRPC", tc.name, err)
		}
	}
}

// A host that was itself launched by a go-plugin host (a host that is also
// a plugin) has go-plugin's launch variables in its environment. It must
// not pass them on to the plugins it launches without asking for what they
// ask: a plugin would multiplex, or serve TLS, for a host that does not.
func TestInheritedGoPluginVariablesNotPassedOn(t *testing.T) {
	_, certPEM, err := autotls.Generate()
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range [][2]string{{"PLUGIN_MULTIPLEX_GRPC", "true"}, {"PLUGIN_CLIENT_CERT", string(certPEM)}} {
		t.Run(kv[0], func(t *testing.T) {
			t.Setenv(kv[0], kv[1])
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c, cc, _ := launchCounter(t, ctx)
			if h := c.Handshake(); h.Multiplex || len(h.ServerCert) > 0 {
				t.Errorf("handshake %q: the plugin multiplexes or serves TLS for a host that asked for neither", h.String())
			}
			if _, err := cc.Get(ctx, "apples"); err != nil {
				t.Errorf("Get: %v", err)
			}
		})
	}
}

// A host that did not ask for multiplexing refuses a plugin that says it
// multiplexes (here made to, through WithEnv), naming the variable.
func TestUnaskedMultiplexRefused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := tether.Launch(ctx, build(t, goPluginCounter), tether.WithHandshake(counterHandshake),
		tether.WithInterface("counter", 1), tether.WithEnv("PLUGIN_MULTIPLEX_GRPC=true"))
	if err == nil {
		_ = c.Close()
		t.Fatal("a multiplexing plugin loaded in a host that did not ask for multiplexing")
	}
	if !errors.Is(err, tether.ErrNotPlugin) || !strings.Contains(err.Error(), "PLUGIN_MULTIPLEX_GRPC was not set") {
		t.Errorf("Launch = %v; want ErrNotPlugin naming PLUGIN_MULTIPLEX_GRPC", err)
	}
}
