// Tests of greeter-node, the greeter plugin written in Node.js
// (plugins/greeter-node): the same acceptance as a Go greeter plugin, run on
// real node processes, to show that docs/protocol.md is all a plugin in
// another language needs.
package greeter_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/tetherplug/tether"
	greeterv1 "github.com/tetherplug/tether/examples/greeter/greeterpb/v1"
	"github.com/tetherplug/tether/examples/greeter/internal/greeting"
	"github.com/tetherplug/tether/internal/autotls"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/pb/tetherv1"
	"github.com/tetherplug/tether/internal/plugintest"
	"github.com/tetherplug/tether/tethertest"
)

// nodeDir is the Node.js plugin's directory, relative to this package.
const nodeDir = "plugins/greeter-node"

// nodePlugin returns the absolute path of the Node.js greeter plugin. When
// node or the plugin's npm packages are missing the test fails saying how
// to install them, or is skipped with TETHER_SKIP_NODE=1.
func nodePlugin(t *testing.T) string {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("greeter-node listens on a Unix socket only")
	}
	missing := ""
	if _, err := exec.LookPath("node"); err != nil {
		missing = "node is not installed (Node.js 18 or later)"
	} else {
		for _, pkg := range []string{"@grpc/grpc-js", "@grpc/proto-loader"} {
			if _, err := os.Stat(filepath.Join(nodeDir, "node_modules", pkg, "package.json")); err != nil {
				missing = nodeDir + "/node_modules/" + pkg + " is missing"
				break
			}
		}
	}
	if missing != "" {
		if os.Getenv("TETHER_SKIP_NODE") == "1" {
			t.Skipf("%s (TETHER_SKIP_NODE=1)", missing)
		}
		t.Fatalf("%s: run `make node-deps` (or set TETHER_SKIP_NODE=1 to skip the Node.js plugin's tests)", missing)
	}
	path, err := filepath.Abs(filepath.Join(nodeDir, "greeter-node"))
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// greeterPlugin is one greeter plugin program for the acceptance test.
type greeterPlugin struct {
	name  string // the program's file name, which the host names it by
	path  string
	hello string // its greeting for "Ada"
}

// greeterPrograms are the greeter plugins every acceptance check runs on:
// each returns its program's path (building it, or failing or skipping
// when it cannot run here).
var greeterPrograms = []struct {
	name, hello string
	path        func(*testing.T) string
}{
	{"greeter-en", "Hello, Ada!", func(t *testing.T) string { return tethertest.Build(t, v1Only) }},
	{"greeter-node", "Hello from Node.js, Ada!", nodePlugin},
}

// TestGreeterAcceptance runs the same checks on a Go greeter plugin and on
// the Node.js one: what a host relies on from any greeter plugin.
func TestGreeterAcceptance(t *testing.T) {
	for _, prog := range greeterPrograms {
		t.Run(prog.name, func(t *testing.T) {
			p := greeterPlugin{prog.name, prog.path(t), prog.hello}
			t.Run("serves", func(t *testing.T) { acceptServes(t, p) })
			t.Run("wrong cookie", func(t *testing.T) { acceptWrongCookie(t, p) })
			t.Run("no shared version", func(t *testing.T) { acceptNoSharedVersion(t, p) })
			t.Run("automatic mutual TLS", func(t *testing.T) { acceptAutoMTLS(t, p) })
		})
	}
}

// acceptServes: launched with the greeter handshake, the plugin's interface
// versions are known before the first call, it greets, reports SERVING,
// its logs reach the host's logger at their level, and Close stops it
// through the controller's Shutdown with exit status 0.
func acceptServes(t *testing.T, p greeterPlugin) {
	log, rec := plugintest.NewLogRecorder()
	ctx := callCtx(t)
	c, err := tether.Launch(launchCtx(t), p.path, tether.WithHandshake(greeting.Handshake),
		tether.WithInterface("greeter", 1), tether.WithLogger(log))
	if err != nil {
		t.Fatalf("launch: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if got := c.Served(); !slices.Equal(got["greeter"], []int{1}) || !c.Serves("greeter", 1) || c.Serves("greeter", 2) {
		t.Errorf("before any call: Served() = %v, want greeter [1]", got)
	}
	if v, ok := c.Version("greeter"); !ok || v != 1 {
		t.Errorf("Version(greeter) = %d, %v; want 1, true", v, ok)
	}

	g, err := tether.Dispense(c, "greeter", greeterv1.NewGreeterClient)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := g.Greet(ctx, &greeterv1.GreetRequest{Name: "Ada"}); err != nil || r.GetMessage() != p.hello {
		t.Fatalf("Greet(Ada) = %v, %v; want %q", r, err, p.hello)
	}
	if err := c.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
	health := healthpb.NewHealthClient(c.Conn())
	for _, svc := range []string{"plugin", ""} {
		r, err := health.Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
		if err != nil || r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("health of %q = %v, %v; want SERVING", svc, r, err)
		}
	}
	// The plugin's debug log of the call arrives at debug, with its
	// attributes and the plugin's name.
	r := awaitLog(t, rec, "greeting")
	if r.Level != slog.LevelDebug || r.Attrs["name"] != "Ada" || r.Attrs["plugin"] != p.name {
		t.Errorf("log record %+v; want level DEBUG, name=Ada, plugin=%s", r, p.name)
	}

	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	var pe *tether.PluginError
	if err := c.ExitError(); !errors.As(err, &pe) || !pe.Exited || pe.ExitCode != 0 {
		t.Errorf("ExitError() after Close = %v, want exit status 0", err)
	}
	awaitLog(t, rec, "host asked the plugin to shut down")
	if r, ok := rec.Find("plugin received a signal; shutting down"); ok {
		t.Errorf("the plugin needed a signal to stop (%+v), not just the controller's Shutdown", r)
	}
}

// launchCtx bounds a launch: node starts in well under a second, but the
// machine may be busy.
func launchCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// awaitLog waits (bounded) for the host's logger to receive a record with
// message msg from the plugin.
func awaitLog(t *testing.T, rec plugintest.LogRecorder, msg string) plugintest.LogRecord {
	t.Helper()
	var r plugintest.LogRecord
	plugintest.Eventually(t, 5*time.Second, "a log record "+msg, func() bool {
		var ok bool
		r, ok = rec.Find(msg)
		return ok
	})
	return r
}

// acceptWrongCookie: a plugin run with another application's cookie refuses
// to start, and the host says so with ErrWrongCookie.
func acceptWrongCookie(t *testing.T, p greeterPlugin) {
	other := tether.HandshakeConfig{ProtocolVersion: 1, MagicCookieKey: "OTHER_APP_PLUGIN", MagicCookieValue: "other"}
	c, err := tether.Launch(launchCtx(t), p.path, tether.WithHandshake(other))
	if err == nil {
		c.Close()
		t.Fatal("the plugin started without its magic cookie")
	}
	if !errors.Is(err, tether.ErrWrongCookie) {
		t.Fatalf("err = %v, want ErrWrongCookie", err)
	}
}

// acceptNoSharedVersion: a host offering only protocol versions, or only
// greeter versions, the plugin does not serve gets a *VersionError naming
// both sides, before any call.
func acceptNoSharedVersion(t *testing.T, p greeterPlugin) {
	for _, tc := range []struct {
		what  string
		opt   tether.Option
		iface string
		host  []int
	}{
		{"protocol", tether.WithProtocolVersions(2, 3), "", []int{2, 3}},
		{"interface", tether.WithInterface("greeter", 3), "greeter", []int{3}},
	} {
		c, err := tether.Launch(launchCtx(t), p.path, tether.WithHandshake(greeting.Handshake), tc.opt)
		if err == nil {
			c.Close()
			t.Fatalf("%s: launch accepted a plugin sharing no version", tc.what)
		}
		var ve *tether.VersionError
		if !errors.As(err, &ve) || !errors.Is(err, tether.ErrIncompatibleVersion) {
			t.Fatalf("%s: err = %v, want a *VersionError", tc.what, err)
		}
		if ve.Interface != tc.iface || !slices.Equal(ve.HostVersions, tc.host) || !slices.Equal(ve.PluginVersions, []int{1}) {
			t.Errorf("%s: VersionError = %+v; want interface %q, host %v, plugin [1]", tc.what, ve, tc.iface, tc.host)
		}
	}
}

// The Node.js plugin logs a greeting without a name at WARN: the host's
// logger gets it at WARN, with plugin=greeter-node and the attribute.
func TestNodeWarnReleveled(t *testing.T) {
	log, rec := plugintest.NewLogRecorder()
	c := launchNode(t, tether.WithLogger(log))
	g, _ := tether.Dispense(c, "greeter", greeterv1.NewGreeterClient)
	if r, err := g.Greet(callCtx(t), &greeterv1.GreetRequest{}); err != nil || r.GetMessage() != "Hello from Node.js, stranger!" {
		t.Fatalf("Greet() = %v, %v", r, err)
	}
	r := awaitLog(t, rec, "greeting someone without a name")
	if r.Level != slog.LevelWarn || r.Attrs["plugin"] != "greeter-node" || r.Attrs["fallback"] != "stranger" {
		t.Errorf("log record %+v; want level WARN, plugin=greeter-node, fallback=stranger", r)
	}
	if _, ok := r.Attrs["time"]; ok {
		t.Errorf("the plugin's time attribute was kept: %+v", r)
	}
}

func launchNode(t *testing.T, opts ...tether.Option) *tether.Client {
	t.Helper()
	c, err := tether.Launch(launchCtx(t), nodePlugin(t), append([]tether.Option{
		tether.WithHandshake(greeting.Handshake), tether.WithInterface("greeter", 1)}, opts...)...)
	if err != nil {
		t.Fatalf("launch greeter-node: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// A host that provides the echo service as a callback sees every greeting
// of the Node.js plugin pass through its Echo.Unary (over the session
// tunnel), and its answer is the greeting; a host whose callbacks lack Echo
// gets the plain greeting.
func TestNodeCallbacks(t *testing.T) {
	c := launchNode(t, tether.WithCallbacks(func(r grpc.ServiceRegistrar) {
		echov1.RegisterEchoServer(r, plugintest.TaggedEcho{Tag: "host"})
	}))
	g, _ := tether.Dispense(c, "greeter", greeterv1.NewGreeterClient)
	for i := range 3 { // the tunnel carries call after call
		r, err := g.Greet(callCtx(t), &greeterv1.GreetRequest{Name: "Ada"})
		if err != nil || r.GetMessage() != "host:Hello from Node.js, Ada!" {
			t.Fatalf("Greet #%d with an Echo callback = %v, %v; want the host's echo of the greeting", i, r, err)
		}
	}

	plain := launchNode(t, tether.WithCallbacks(func(r grpc.ServiceRegistrar) {
		greeterv1.RegisterGreeterServer(r, &greeting.Server{Format: "unused %s"})
	}))
	g, _ = tether.Dispense(plain, "greeter", greeterv1.NewGreeterClient)
	if r, err := g.Greet(callCtx(t), &greeterv1.GreetRequest{Name: "Ada"}); err != nil || r.GetMessage() != "Hello from Node.js, Ada!" {
		t.Fatalf("Greet with callbacks but no Echo = %v, %v; want the plain greeting", r, err)
	}
}

// The Node.js plugin refuses a Tunnel stream whose session is missing or
// malformed with INVALID_ARGUMENT, as the protocol requires.
func TestNodeTunnelNeedsSession(t *testing.T) {
	c := launchNode(t) // a host without callbacks sends no session
	for _, md := range []metadata.MD{nil, metadata.Pairs("tether-session", "not-hex"),
		metadata.Pairs("tether-session", strings.Repeat("a", 32), "tether-session", strings.Repeat("b", 32))} {
		ctx := metadata.NewOutgoingContext(callCtx(t), md)
		stream, err := tetherv1.NewCallbacksClient(c.Conn()).Tunnel(ctx)
		if err == nil {
			_, err = stream.Recv()
		}
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), "tether-session") {
			t.Errorf("Tunnel with metadata %v: %v; want InvalidArgument naming tether-session", md, err)
		}
	}
}

// acceptAutoMTLS: with automatic mutual TLS the plugin returns a
// certificate for localhost on its handshake line, serves the host over
// TLS, and refuses a client that does not present the host's certificate.
func acceptAutoMTLS(t *testing.T, p greeterPlugin) {
	ctx := callCtx(t)
	c, err := tether.Launch(launchCtx(t), p.path, tether.WithHandshake(greeting.Handshake), tether.WithAutoMTLS())
	if err != nil {
		t.Fatalf("launch with automatic mutual TLS: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	hs := c.Handshake()
	cert, err := x509.ParseCertificate(hs.ServerCert)
	if err != nil || cert.VerifyHostname("localhost") != nil {
		t.Fatalf("handshake certificate: %v (parse error %v); want one valid for localhost", cert, err)
	}
	g, _ := tether.Dispense(c, "greeter", greeterv1.NewGreeterClient)
	if r, err := g.Greet(ctx, &greeterv1.GreetRequest{Name: "Ada"}); err != nil || r.GetMessage() != p.hello {
		t.Fatalf("Greet over TLS = %v, %v", r, err)
	}
	stranger, _, err := autotls.Generate() // a certificate the plugin was not given
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	for name, own := range map[string][]tls.Certificate{"no certificate": nil, "another certificate": {stranger}} {
		conn, err := tls.Dial("unix", hs.Address, &tls.Config{RootCAs: roots, ServerName: "localhost",
			NextProtos: []string{"h2"}, Certificates: own, MinVersion: tls.VersionTLS12})
		if err == nil {
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			_, err = conn.Write([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"))
			if err == nil {
				_, err = conn.Read(make([]byte, 1))
			}
			conn.Close()
		}
		var ne net.Error
		if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
			t.Errorf("a client with %s: %v; want the plugin to refuse it", name, err)
		}
	}
}

// The example greeter host loads the Node.js plugin like its Go ones, as
// docs/plugins.md shows.
func TestNodeWithGreeterHost(t *testing.T) {
	plugin := nodePlugin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, tethertest.Build(t, hostV1), plugin).Output()
	if err != nil {
		t.Fatalf("greeter-host: %v\n%s", err, out)
	}
	if want := "greeter-node: Hello from Node.js, Ada!\n"; string(out) != want {
		t.Errorf("greeter-host printed %q, want %q", out, want)
	}
}

// Every line of code docs/plugins.md quotes from the Node.js plugin (its js
// blocks, elisions aside) is in the plugin's source.
func TestNodeDocQuotesCode(t *testing.T) {
	var src strings.Builder
	files, _ := filepath.Glob(filepath.Join(nodeDir, "lib", "*.js"))
	for _, f := range append(files, filepath.Join(nodeDir, "greeter-node")) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src.Write(b)
	}
	doc, err := os.ReadFile("../../docs/plugins.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?ms)^ *```js\n(.*?)^ *```$").FindAllStringSubmatch(string(doc), -1)
	if len(blocks) == 0 {
		t.Fatal("docs/plugins.md quotes no js code")
	}
	for _, b := range blocks {
		for _, line := range strings.Split(b[1], "\n") {
			line = strings.TrimSpace(line)
			if line != "" && !strings.Contains(line, "...") && !strings.Contains(src.String(), line) {
				t.Errorf("docs/plugins.md quotes %q, which is not in %s", line, nodeDir)
			}
		}
	}
}

// Without reflection (greeter-node serves none), a host still knows the
// methods Describe lists, and says it cannot know the others, as
// docs/protocol.md states.
func TestNodeImplementsWithoutReflection(t *testing.T) {
	c := launchNode(t)
	ctx := callCtx(t)
	if has, err := c.Implements(ctx, greeterv1.Greeter_Greet_FullMethodName); err != nil || !has {
		t.Errorf("Implements(Greet) = %v, %v; want true, nil", has, err)
	}
	if has, err := c.Implements(ctx, "/greeter.v1.Greeter/Wave"); err != nil || has {
		t.Errorf("Implements(Greeter/Wave) = %v, %v; want false, nil", has, err)
	}
	if _, err := c.Implements(ctx, "/grpc.health.v1.Health/Check"); !errors.Is(err, tether.ErrCapabilitiesUnknown) {
		t.Errorf("Implements(Health/Check) error = %v, want ErrCapabilitiesUnknown", err)
	}
}

// Describe by RPC answers what the handshake line carried: the plugin's
// name, protocol versions, greeter v1 with its service and method, tether
// protocol 1 and the callbacks feature.
func TestNodeDescribe(t *testing.T) {
	c := launchNode(t)
	r, err := tetherv1.NewPluginClient(c.Conn()).Describe(callCtx(t), &tetherv1.DescribeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	want := &tetherv1.DescribeResponse{
		Name: "greeter-node", ProtocolVersions: []uint32{1}, TetherProtocol: 1, Features: []string{"callbacks"},
		Interfaces: []*tetherv1.Interface{{Name: "greeter", Version: 1,
			Services: []*tetherv1.Service{{Name: "greeter.v1.Greeter", Methods: []string{"Greet"}}}}},
	}
	if !proto.Equal(r, want) {
		t.Errorf("Describe = %v, want %v", r, want)
	}
	if !c.Described() {
		t.Error("the host does not count the plugin as described")
	}
}
