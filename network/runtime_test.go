package network_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/plugintest"
	"github.com/tetherplug/tether/network"
)

// eventually is plugintest.Eventually.
var eventually = plugintest.Eventually

func admitted(c *tether.Client) int {
	n := 0
	for _, in := range c.Instances() {
		if in.Admitted {
			n++
		}
	}
	return n
}

// fastReconnect makes the client's connections retry quickly.
var fastReconnect = tether.WithDialOptions(grpc.WithConnectParams(grpc.ConnectParams{
	Backoff:           backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.5, MaxDelay: 300 * time.Millisecond},
	MinConnectTimeout: time.Second,
}))

func open(t *testing.T, target string, opts ...tether.Option) *tether.Client {
	t.Helper()
	c, err := tether.Open(t.Context(), target, append([]tether.Option{tether.WithInterface("echo", 1),
		tether.WithStartTimeout(5 * time.Second), tether.WithLogger(quietLogger())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestBalancedOverThreeInstances: three plugins on three loopback ports
// behind one tcp target share 3,000 calls evenly (±10%).
func TestBalancedOverThreeInstances(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	srvs := []*plugin{serveTLS(t, p), serveTLS(t, p), serveTLS(t, p)}
	c := open(t, fmt.Sprintf("tcp://%s,%s,%s", srvs[0].addr, srvs[1].addr, srvs[2].addr),
		network.WithTLSFiles(p.clientCert, p.clientKey, p.caFile))
	eventually(t, 5*time.Second, "3 instances admitted", func() bool { return admitted(c) == 3 })
	echo, _ := tether.Dispense(c, "echo", echov1.NewEchoClient)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for i := range 3000 {
		if _, err := echo.Unary(ctx, &echov1.Message{Text: "x"}); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	for i, s := range srvs {
		if n := s.echo.calls.Load(); n < 900 || n > 1100 {
			t.Errorf("instance %d took %d calls, want 1000±100", i, n)
		}
	}
}

// TestRemoteRestart: while the only instance is down, calls fail fast with
// ErrUnavailable; once it serves again on the same address, the same
// client's calls succeed.
func TestRemoteRestart(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	srv := serveTLS(t, p)
	c := open(t, "tcp://"+srv.addr, network.WithTLSFiles(p.clientCert, p.clientKey, p.caFile), fastReconnect)
	call(t, c, "before")
	srv.stop()
	echo, _ := tether.Dispense(c, "echo", echov1.NewEchoClient)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	start := time.Now()
	_, err := echo.Unary(ctx, &echov1.Message{Text: "while down"})
	if !errors.Is(err, tether.ErrUnavailable) {
		t.Fatalf("call while the plugin is down: %v, want ErrUnavailable", err)
	}
	t.Logf("while down: %v", err)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("the call took %v to fail", took)
	}
	lis, err := net.Listen("tcp", srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	again := servePlugin(t, lis, grpc.Creds(srv.creds))
	start = time.Now()
	eventually(t, 5*time.Second, "calls succeeding after the restart", func() bool {
		cctx, ccancel := context.WithTimeout(ctx, time.Second)
		defer ccancel()
		_, err := echo.Unary(cctx, &echov1.Message{Text: "after"})
		return err == nil
	})
	t.Logf("calls succeed %v after the restart", time.Since(start).Round(time.Millisecond))
	if again.echo.calls.Load() == 0 {
		t.Error("the restarted instance took no call")
	}
}

// TestUnixTarget: a plugin on a Unix socket, plaintext by default.
func TestUnixTarget(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "echo.sock")
	lis, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	servePlugin(t, lis)
	call(t, open(t, "unix://"+path), "over a unix socket")
}

// TestIPv6Target: a bracketed IPv6 address.
func TestIPv6Target(t *testing.T) {
	t.Parallel()
	lis, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skip("no IPv6 loopback:", err)
	}
	srv := servePlugin(t, lis)
	call(t, open(t, "tcp://"+srv.addr, network.WithInsecure()), "over IPv6")
}

// TestBadTargets: malformed targets and contradictory options fail at once
// with ErrBadTarget naming the problem.
func TestBadTargets(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	files := network.WithTLSFiles(p.clientCert, p.clientKey, p.caFile)
	for _, tc := range []struct {
		target string
		opts   []tether.Option
		want   string
	}{
		{"tcp://", nil, "at least one host:port"},
		{"tcp://127.0.0.1", []tether.Option{network.WithInsecure()}, "not host:port"},
		{"tcp://127.0.0.1:0", []tether.Option{network.WithInsecure()}, "from 1 to 65535"},
		{"tcp://127.0.0.1:70000", []tether.Option{network.WithInsecure()}, "from 1 to 65535"},
		{"tcp://127.0.0.1:7000,,127.0.0.1:7001", []tether.Option{network.WithInsecure()}, "empty"},
		{"tcp://127.0.0.1:7000/x", []tether.Option{network.WithInsecure()}, "no path"},
		{"tcp://127.0.0.1:7000", nil, "requires TLS"},
		{"tcp://127.0.0.1:7000", nil, "network.WithInsecure()"},
		{"dns:///localhost:7000", nil, "requires TLS"},
		{"tcp://127.0.0.1:7000", []tether.Option{files, network.WithInsecure()}, "contradicts"},
		{"tcp://127.0.0.1:7000", []tether.Option{files, network.WithTLSConfig(p.clientTLS())}, "not both"},
		{"unix://relative/echo.sock", nil, "unix:///absolute/path"},
		{"unix:///", nil, "unix:///absolute/path"},
		{"dns:///", []tether.Option{network.WithInsecure()}, "dns:///name:port"},
		{"dns:///localhost", []tether.Option{network.WithInsecure()}, "not host:port"},
		{"dns://8.8.8.8/localhost:7000", []tether.Option{network.WithInsecure()}, "DNS server"},
		{"tcp://127.0.0.1:7000", []tether.Option{network.WithInsecure(), tether.WithArgs("-v")}, "WithArgs"},
		{"/bin/true", []tether.Option{network.WithInsecure()}, "network.WithInsecure"},
	} {
		start := time.Now()
		c, err := tether.Open(t.Context(), tc.target, append(tc.opts, tether.WithLogger(quietLogger()))...)
		if err == nil {
			c.Close()
			t.Errorf("Open(%q) succeeded", tc.target)
			continue
		}
		var pe *tether.PluginError
		if !errors.Is(err, tether.ErrBadTarget) || !errors.As(err, &pe) {
			t.Errorf("Open(%q): %v, want a *PluginError of ErrBadTarget", tc.target, err)
		}
		wantIn(t, err, tc.want)
		if took := time.Since(start); took > time.Second {
			t.Errorf("Open(%q) took %v to fail", tc.target, took)
		}
	}
}

// TestUnreadableTLSFiles: certificate files that cannot be loaded are the
// host's failure, named.
func TestUnreadableTLSFiles(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	_, err := tether.Open(t.Context(), "tcp://127.0.0.1:7000",
		network.WithTLSFiles(p.clientCert, p.clientKey, filepath.Join(p.dir, "missing.pem")))
	if !errors.Is(err, tether.ErrHost) {
		t.Errorf("missing CA file: %v, want ErrHost", err)
	}
	wantIn(t, err, "missing.pem")
	_, err = tether.Open(t.Context(), "tcp://127.0.0.1:7000", network.WithTLSFiles(p.clientKey, p.clientKey, p.caFile))
	if !errors.Is(err, tether.ErrHost) {
		t.Errorf("a key for a certificate: %v, want ErrHost", err)
	}
	wantIn(t, err, "client certificate")
}

// TestDNSTarget: a dns target is resolved again periodically; a changed
// set moves the calls, a failed lookup keeps the last set.
func TestDNSTarget(t *testing.T) {
	// Not parallel: it replaces the package's lookup.
	a := servePlugin(t, listen(t))
	_, port, _ := net.SplitHostPort(a.addr)
	lis2, err := net.Listen("tcp", net.JoinHostPort("127.0.0.2", port))
	if err != nil {
		t.Skip("cannot listen on 127.0.0.2:", err)
	}
	b := servePlugin(t, lis2)
	var mu sync.Mutex
	answer, fail := []string{"127.0.0.1"}, error(nil)
	set := func(hosts []string, err error) { mu.Lock(); answer, fail = hosts, err; mu.Unlock() }
	// Restored in a cleanup registered before the client's, so after it
	// is closed and no longer resolves.
	t.Cleanup(network.SetLookupHost(func(_ context.Context, name string) ([]string, error) {
		mu.Lock()
		defer mu.Unlock()
		if name != "plugins.test" {
			return nil, fmt.Errorf("unexpected name %q", name)
		}
		return answer, fail
	}))
	c := open(t, "dns:///plugins.test:"+port, network.WithInsecure(), network.WithResolveInterval(20*time.Millisecond))
	call(t, c, "first")
	if a.echo.calls.Load() != 1 || b.echo.calls.Load() != 0 {
		t.Fatalf("calls: %d on the first address, %d on the second; want 1, 0", a.echo.calls.Load(), b.echo.calls.Load())
	}
	set([]string{"127.0.0.2"}, nil)
	eventually(t, 5*time.Second, "the second address admitted alone", func() bool {
		in := c.Instances()
		return len(in) == 1 && in[0].Address == lis2.Addr().String() && in[0].Admitted
	})
	set(nil, errors.New("no such host"))
	time.Sleep(100 * time.Millisecond) // several re-resolutions fail
	call(t, c, "after a failed lookup")
	if b.echo.calls.Load() != 1 {
		t.Errorf("the second address took %d calls, want 1", b.echo.calls.Load())
	}
	set([]string{}, nil)
	time.Sleep(100 * time.Millisecond) // several re-resolutions answer nothing
	if in := c.Instances(); len(in) != 1 {
		t.Errorf("an empty answer left %d instances, want the last known 1", len(in))
	}
}

// TestDNSUnresolvable: a dns target whose name does not resolve when it is
// opened fails at once with ErrUnavailable and the lookup error.
func TestDNSUnresolvable(t *testing.T) {
	// Not parallel: it replaces the package's lookup.
	t.Cleanup(network.SetLookupHost(func(context.Context, string) ([]string, error) {
		return nil, errors.New("no such host")
	}))
	start := time.Now()
	_, err := tether.Open(t.Context(), "dns:///plugins.test:7000", network.WithInsecure(), tether.WithLogger(quietLogger()))
	if !errors.Is(err, tether.ErrUnavailable) {
		t.Fatalf("Open: %v, want ErrUnavailable", err)
	}
	wantIn(t, err, "plugins.test", "no such host")
	if took := time.Since(start); took > time.Second {
		t.Errorf("it took %v to fail", took)
	}
}
