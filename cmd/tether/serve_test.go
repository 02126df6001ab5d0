package main

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/plugintest"
	"github.com/tetherplug/tether/network"
	"github.com/tetherplug/tether/tethertest"
)

// callbackPluginPkg is the plugin whose Echo calls back the host's Echo.
const callbackPluginPkg = "github.com/tetherplug/tether/test/plugins/callbackplugin"

// served is one running tether serve.
type served struct {
	addr   string
	cmd    *exec.Cmd
	exited chan error // its Wait, once stderr is read to its end
	stderr *strings.Builder
	lines  chan map[string]any // its JSON log lines after "listening"
}

// startServe runs tether serve with args (--listen 127.0.0.1:0 added) and
// returns once it logged its address. At cleanup it is sent SIGTERM and
// must exit 0 within 10 s, leaving no process and nothing in its TMPDIR.
func startServe(t *testing.T, args ...string) *served {
	t.Helper()
	mark, tmp := newMark(t), t.TempDir()
	s := &served{exited: make(chan error, 1), stderr: &strings.Builder{}, lines: make(chan map[string]any, 100)}
	s.cmd = exec.Command(cli(t), append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	s.cmd.Env = cliEnv(mark, tmp)
	pipe, err := s.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addrs := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			s.stderr.WriteString(sc.Text() + "\n") // read only after exited
			var line map[string]any
			if json.Unmarshal(sc.Bytes(), &line) != nil {
				continue
			}
			if a, ok := line["addr"].(string); ok && line["msg"] == "listening" {
				addrs <- a
			}
			select {
			case s.lines <- line:
			default:
			}
		}
		s.exited <- s.cmd.Wait()
	}()
	t.Cleanup(func() {
		s.stop(t)
		assertNoneLeft(t, mark, tmp)
	})
	select {
	case s.addr = <-addrs:
		return s
	case err := <-s.exited:
		s.exited <- err
		t.Fatalf("tether serve exited before it listened: %v\n%s", err, s.stderr)
	case <-time.After(20 * time.Second):
		t.Fatal("tether serve logged no listening line within 20 s")
	}
	return s
}

// serveTLS are serve's flags for the test PKI's server certificate.
func serveTLS(pki string) []string {
	return []string{"--tls-cert", filepath.Join(pki, "greeter.crt"), "--tls-key", filepath.Join(pki, "greeter.key"),
		"--client-ca", filepath.Join(pki, "ca.crt")}
}

// TestServeGreeter is issue 8's acceptance line: tether certs, then tether
// serve greeter-en with mutual TLS; inspect with a client certificate shows
// the greeter service, without one fails within 5 s naming the TLS cause;
// call works through it, a streaming method too.
func TestServeGreeter(t *testing.T) {
	pki := t.TempDir()
	makePKI(t, pki)
	s := startServe(t, append([]string{greeter(t)}, serveTLS(pki)...)...)
	target := "tcp://" + s.addr
	clientTLS := []string{"--tls-cert", filepath.Join(pki, "host-1.crt"), "--tls-key", filepath.Join(pki, "host-1.key"),
		"--tls-ca", filepath.Join(pki, "ca.crt")}

	r := run(t, "", nil, append([]string{"inspect", target}, clientTLS...)...)
	requireOK(t, r)
	for _, want := range []string{"mutual TLS", "greeter v1 (greeter.v1.Greeter)", "Greet(greeter.v1.GreetRequest)", "health:            SERVING"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("inspect through serve: output lacks %q:\n%s", want, r.stdout)
		}
	}

	r = run(t, "", nil, "inspect", target, "--tls-ca", filepath.Join(pki, "ca.crt"))
	if r.code == 0 || r.elapsed > 5*time.Second || !strings.Contains(r.stderr, "tls: certificate required") {
		t.Errorf("inspect without a client certificate: exit %d after %v, stderr %q; want a failure within 5 s naming the TLS cause",
			r.code, r.elapsed, r.stderr)
	}

	r = run(t, "", nil, append([]string{"call", target, "greeter.v1.Greeter/Greet", `{"name":"Ada"}`}, clientTLS...)...)
	requireOK(t, r)
	if !strings.Contains(r.stdout, "Hello, Ada!") {
		t.Errorf("call through serve: %s", r.stdout)
	}
	r = run(t, "", nil, append([]string{"call", target, "plugin.GRPCController/Shutdown", `{}`}, clientTLS...)...)
	if r.code == 0 || !strings.Contains(r.stderr, "PermissionDenied") || !strings.Contains(r.stderr, "only the launching host") {
		t.Errorf("Shutdown through serve: exit %d, stderr %q; want PermissionDenied saying why", r.code, r.stderr)
	}
	r = run(t, "", nil, append([]string{"call", target, "greeter.v1.Greeter/Greet", `{"name":"Bob"}`}, clientTLS...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "Hello, Bob!") {
		t.Errorf("call after a refused Shutdown: exit %d, %s %s; the plugin must still serve", r.code, r.stdout, r.stderr)
	}
}

// openThrough opens the plugin behind serve as a network host does.
func openThrough(t *testing.T, s *served, opts ...tether.Option) *tether.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := tether.Open(ctx, "tcp://"+s.addr, append([]tether.Option{tether.WithLogger(slog.New(slog.DiscardHandler))}, opts...)...)
	if err != nil {
		t.Fatalf("Open tcp://%s: %v", s.addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// waitLine waits up to 10 s for serve to log msg.
func waitLine(t *testing.T, s *served, msg string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case line := <-s.lines:
			if line["msg"] == msg {
				return
			}
		case <-timeout:
			t.Fatalf("serve did not log %q within 10 s", msg)
		}
	}
}

// hostEcho is the Echo service the host provides as a callback.
type hostEcho struct {
	plugintest.EchoServer
}

func (hostEcho) Unary(_ context.Context, m *echov1.Message) (*echov1.Message, error) {
	return &echov1.Message{Text: "host:" + m.GetText()}, nil
}

// TestServeCallbacks: a network host with callbacks calls the callback
// plugin through serve (mutual TLS); the plugin's call back reaches the
// host through the proxy's bidi tunnel.
func TestServeCallbacks(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	pki := t.TempDir()
	makePKI(t, pki)
	s := startServe(t, append([]string{tethertest.Build(t, callbackPluginPkg)}, serveTLS(pki)...)...)
	c := openThrough(t, s, network.WithTLSFiles(filepath.Join(pki, "host-1.crt"), filepath.Join(pki, "host-1.key"), filepath.Join(pki, "ca.crt")),
		tether.WithInterface("echo", 1),
		tether.WithCallbacks(func(r grpc.ServiceRegistrar) { echov1.RegisterEchoServer(r, hostEcho{}) }))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := echov1.NewEchoClient(c.Conn()).Unary(ctx, &echov1.Message{Text: "hi"})
	if err != nil || m.GetText() != "plugin:host:hi" {
		t.Fatalf("call with a callback through serve: %v, %v; want plugin:host:hi", m, err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// TestServeFlagErrors: bad flags fail at once with a message naming them.
func TestServeFlagErrors(t *testing.T) {
	pki := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", greeter(t), "--listen", "127.0.0.1:0"}, "--tls-cert, --tls-key and --client-ca for mutual TLS, or --insecure"},
		{[]string{"serve", greeter(t), "--listen", "127.0.0.1:0", "--insecure", "--tls-cert", "x"}, "--insecure contradicts"},
		{[]string{"serve", greeter(t), "--listen", "127.0.0.1:0", "--tls-cert", "x", "--tls-key", "y"}, "--client-ca is required"},
		{[]string{"serve", greeter(t), "--listen", "127.0.0.1:0", "--tls-cert", filepath.Join(pki, "none.crt"), "--tls-key", "y", "--client-ca", "z"}, "--tls-cert: stat"},
		{[]string{"serve", greeter(t), "--insecure"}, "serve needs --listen"},
		{[]string{"serve", "tcp://127.0.0.1:7000", "--listen", "127.0.0.1:0", "--insecure"}, "serve launches a local plugin"},
		{[]string{"serve", greeter(t), "--listen", "nonsense", "--insecure"}, "--listen nonsense"},
		{[]string{"serve", "--listen", "127.0.0.1:0", "--insecure"}, "serve takes one TARGET"},
		{[]string{"serve", greeter(t), "--listen", "127.0.0.1:0", "--insecure", "--metrics", "nonsense"}, `--metrics "nonsense": want a port (9090) or host:port`},
		{[]string{"serve", greeter(t), "--listen", "127.0.0.1:0", "--insecure", "--max-streams", "0"}, "--max-streams 0: want a whole number from 1 to 4294967295"},
	} {
		r := run(t, "", nil, tc.args...)
		if r.code == 0 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("tether %v: exit %d, stderr %q; want a failure saying %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}
