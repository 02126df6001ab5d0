package tether_test

// An in-process harness for the host core's unit tests: plugins served by
// tether.NewServer in the test process on Unix sockets, and a runtime,
// given to Open with tether.WithRuntime, whose endpoints the test sets. No
// plugin process is launched, so the tests see the admission state, the
// balancer and Describe handling alone.

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/pb/tetherv1"
	"github.com/tetherplug/tether/internal/plugintest"
)

const (
	echoUnary     = echov1.Echo_Unary_FullMethodName
	describeCall  = tetherv1.Plugin_Describe_FullMethodName
	inprocTimeout = 10 * time.Second
)

// noLeaks fails the test if goroutines started during it are still running
// once its other cleanups (clients closed, servers stopped) have run. Call
// it first in a test, which must not be parallel.
func noLeaks(t *testing.T) {
	t.Helper()
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, before) })
}

// quiet is a logger that drops everything.
func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// socketPath returns a Unix socket path in a private directory removed
// when the test ends. The directory is short-named under the system's
// temporary directory: a test's own TempDir may exceed the 107 bytes a
// socket path can have.
func socketPath(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "th-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return filepath.Join(dir, "p.sock")
}

// calls counts the RPCs a server received, by full method name.
type calls struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *calls) count(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	c.mu.Lock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[info.FullMethod]++
	c.mu.Unlock()
	return h(ctx, req)
}

// get returns how many calls of method arrived.
func (c *calls) get(method string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[method]
}

// reset forgets the calls so far.
func (c *calls) reset() {
	c.mu.Lock()
	c.n = nil
	c.mu.Unlock()
}

// inprocPlugin is a plugin served in the test process.
type inprocPlugin struct {
	srv   *tether.Server
	ep    tether.Endpoint
	calls *calls
}

// echoImpls serves Echo as interface "echo" at each version given.
func echoImpls(versions ...int) []tether.Implementation {
	var impls []tether.Implementation
	for _, v := range versions {
		impls = append(impls, tether.Implement("echo", v, func(r grpc.ServiceRegistrar) {
			echov1.RegisterEchoServer(r, plugintest.EchoServer{})
		}))
	}
	return impls
}

// servePlugin serves cfg (with a quiet logger unless it has one) on a Unix
// socket and stops it when the test ends. The endpoint it returns is
// plaintext, health-checked when asked.
func servePlugin(t *testing.T, cfg tether.ServeConfig) *inprocPlugin {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quiet()
	}
	p := &inprocPlugin{calls: &calls{}}
	p.srv = tether.NewServer(cfg, grpc.ChainUnaryInterceptor(p.calls.count))
	lis := listenUnix(t)
	go func() { _ = p.srv.Serve(lis) }()
	t.Cleanup(p.srv.Stop)
	p.ep = tether.Endpoint{Network: "unix", Address: lis.Addr().String()}
	return p
}

// serveEcho serves a plugin with Echo as "echo" at the given versions.
func serveEcho(t *testing.T, versions ...int) *inprocPlugin {
	t.Helper()
	return servePlugin(t, tether.ServeConfig{Name: "echo", Implementations: echoImpls(versions...)})
}

// listenUnix listens on a fresh Unix socket.
func listenUnix(t *testing.T) net.Listener {
	t.Helper()
	lis, err := net.Listen("unix", socketPath(t))
	if err != nil {
		t.Fatal(err)
	}
	return lis
}

// testRuntime is a RuntimeBuilder and its Runtime in one: Build reports
// the endpoints it was given; set and end report more later.
type testRuntime struct {
	initial []tether.Endpoint
	built   chan struct{} // closed once Build has run
	sink    tether.EndpointSink
	closed  atomic.Int32 // how many times Close was called
}

// newTestRuntime returns a runtime whose Build reports eps (none: nothing
// yet).
func newTestRuntime(eps ...tether.Endpoint) *testRuntime {
	return &testRuntime{initial: eps, built: make(chan struct{})}
}

// Scheme is "inproc": the tests open "inproc://plugin".
func (r *testRuntime) Scheme() string { return "inproc" }

// Build keeps the client's sink and reports the initial endpoints.
func (r *testRuntime) Build(_ context.Context, _ tether.Target, env tether.RuntimeEnv) (tether.Runtime, error) {
	r.sink = env.Endpoints
	if len(r.initial) > 0 {
		r.sink.UpdateEndpoints(r.initial)
	}
	close(r.built)
	return r, nil
}

// Close stops nothing: the test's servers are the test's to stop.
func (r *testRuntime) Close(context.Context, func(context.Context, tether.Endpoint) error) error {
	r.closed.Add(1)
	return nil
}

// set replaces the endpoint set, as a runtime does when instances come
// and go.
func (r *testRuntime) set(eps ...tether.Endpoint) { r.sink.UpdateEndpoints(eps) }

// end says the runtime will report no more endpoints.
func (r *testRuntime) end(err error) { r.sink.Ended(err) }

// openInproc opens "inproc://plugin" with rt and opts, and closes the
// client when the test ends.
func openInproc(t *testing.T, rt *testRuntime, opts ...tether.Option) *tether.Client {
	t.Helper()
	c, err := tryOpen(t, rt, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return c
}

// tryOpen is openInproc returning Open's error.
func tryOpen(t *testing.T, rt *testRuntime, opts ...tether.Option) (*tether.Client, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), inprocTimeout)
	defer cancel()
	all := append([]tether.Option{tether.WithRuntime(rt), tether.WithLogger(quiet()),
		tether.WithStartTimeout(inprocTimeout)}, opts...)
	c, err := tether.Open(ctx, "inproc://plugin", all...)
	if err == nil {
		t.Cleanup(func() { _ = c.Close() })
	}
	return c, err
}

// echoClient dispenses Echo from c.
func echoClient(t *testing.T, c *tether.Client) echov1.EchoClient {
	t.Helper()
	e, err := tether.Dispense(c, "echo", echov1.NewEchoClient)
	if err != nil {
		t.Fatalf("Dispense(echo): %v", err)
	}
	return e
}

// unary makes one Echo call bounded by inprocTimeout.
func unary(t *testing.T, e echov1.EchoClient, text string) (*echov1.Message, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), inprocTimeout)
	defer cancel()
	return e.Unary(ctx, &echov1.Message{Text: text})
}

// admittedCount is how many of c's instances take calls.
func admittedCount(c *tether.Client) int {
	n := 0
	for _, in := range c.Instances() {
		if in.Admitted {
			n++
		}
	}
	return n
}

// instanceAt returns what c knows of the instance at address, and false
// when c knows no such instance.
func instanceAt(c *tether.Client, address string) (tether.InstanceInfo, bool) {
	for _, in := range c.Instances() {
		if in.Address == address {
			return in, true
		}
	}
	return tether.InstanceInfo{}, false
}
