package interop_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetherplug/tether"
	greeterv1 "github.com/tetherplug/tether/examples/greeter/greeterpb/v1"
	greeterv2 "github.com/tetherplug/tether/examples/greeter/greeterpb/v2"
	"github.com/tetherplug/tether/tethertest"
)

func TestMain(m *testing.M) { tethertest.Main(m) }

// tetherHandshake is the greeter application's handshake (shared.Handshake
// in go-plugin's terms).
var tetherHandshake = tether.HandshakeConfig{ProtocolVersion: 1}

// lines is a concurrency-safe sink that signals when a wanted text arrives.
type lines struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func newLines() *lines { return &lines{changed: make(chan struct{}, 1)} }

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	select {
	case l.changed <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// waitFor waits, at most d, until the sink holds text.
func (l *lines) waitFor(t *testing.T, text string, d time.Duration) {
	t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for !strings.Contains(l.String(), text) {
		select {
		case <-l.changed:
		case <-deadline.C:
			t.Fatalf("%q never arrived; got:\n%s", text, l.String())
		}
	}
}

// A tether host loads a go-plugin gRPC plugin: versions follow go-plugin's
// global protocol version, capabilities come from server reflection, and
// what the plugin prints reaches the host through go-plugin's stdio stream.
func TestTetherHostLoadsGoPlugin(t *testing.T) {
	stdout, logs := newLines(), newLines()
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := tether.Launch(ctx, build(t, goPluginGreeter),
		tether.WithHandshake(tetherHandshake),
		tether.WithInterface("greeter", 1, 2),
		tether.WithStdout(stdout),
		tether.WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	if c.Described() {
		t.Error("a go-plugin plugin claims to serve tether's Describe")
	}
	if v, ok := c.Version("greeter"); !ok || v != 1 {
		t.Errorf("Version(greeter) = %d, %v; want the protocol version 1", v, ok)
	}
	if err := c.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
	if ok, err := c.Implements(ctx, greeterv1.Greeter_Greet_FullMethodName); err != nil || !ok {
		t.Errorf("Implements(Greet) = %v, %v; want true from reflection", ok, err)
	}
	if ok, err := c.Implements(ctx, greeterv2.Greeter_Farewell_FullMethodName); err != nil || ok {
		t.Errorf("Implements(Farewell) = %v, %v; want false from reflection", ok, err)
	}

	g, err := tether.Dispense(c, "greeter", greeterv1.NewGreeterClient)
	if err != nil {
		t.Fatal(err)
	}
	r, err := g.Greet(ctx, &greeterv1.GreetRequest{Name: "Ada"})
	if err != nil || r.GetMessage() != "Howdy, Ada!" {
		t.Fatalf("Greet = %v, %v", r, err)
	}
	stdout.waitFor(t, "gpgreeter stdout: greeting Ada", 10*time.Second)
	logs.waitFor(t, "gpgreeter stderr: greeting Ada", 10*time.Second)

	g2, _ := tether.Dispense(c, "greeter", greeterv2.NewGreeterClient)
	if _, err := g2.Farewell(ctx, &greeterv2.FarewellRequest{Name: "Ada"}); !errors.Is(err, tether.ErrNotImplemented) {
		t.Errorf("Farewell on a go-plugin v1 plugin: %v, want ErrNotImplemented", err)
	}

	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	select {
	case <-c.Exited():
	default:
		t.Error("the go-plugin plugin is still running after Close")
	}
}

// A host asking for an interface version the go-plugin plugin's protocol
// version does not cover is refused before any call.
func TestTetherHostGoPluginVersionMismatch(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := tether.Launch(ctx, build(t, goPluginGreeter),
		tether.WithHandshake(tetherHandshake), tether.WithInterface("greeter", 3))
	if err == nil {
		c.Close()
		t.Fatal("launch accepted greeter v3 from a protocol-1 go-plugin plugin")
	}
	var ve *tether.VersionError
	if !errors.As(err, &ve) || ve.Interface != "greeter" || fmt.Sprint(ve.PluginVersions) != "[1]" {
		t.Fatalf("err = %v, want a greeter *VersionError listing plugin version 1", err)
	}

	// A protocol version it does not speak fails the same way, as go-plugin
	// hosts report it.
	_, err = tether.Launch(ctx, build(t, goPluginGreeter),
		tether.WithHandshake(tetherHandshake), tether.WithProtocolVersions(2))
	if !errors.Is(err, tether.ErrIncompatibleVersion) {
		t.Fatalf("protocol 2: err = %v, want ErrIncompatibleVersion", err)
	}
}

// A go-plugin host (the gphost program) loads tether plugins in gRPC mode,
// plaintext and with automatic mutual TLS: ping, dispense, call, kill. The
// plugin stops because the host asked it to through the controller, which
// go-plugin logs as a clean exit.
func TestGoPluginHostLoadsTetherPlugin(t *testing.T) {
	host := build(t, goPluginHost)
	for _, plugin := range []string{tetherGreeter, tetherGreeterV2} {
		for _, autoMTLS := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/AutoMTLS=%v", filepath.Base(plugin), autoMTLS), func(t *testing.T) {
				cmd := exec.Command(host, fmt.Sprintf("-automtls=%v", autoMTLS), build(t, plugin))
				var stdout, stderr strings.Builder
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				if err := cmd.Run(); err != nil {
					t.Fatalf("gphost: %v\nstdout:\n%s\nstderr:\n%s", err, &stdout, &stderr)
				}
				greeting := map[string]string{tetherGreeter: "Hello, Ada!", tetherGreeterV2: "¡Hola, Ada!"}[plugin]
				want := "protocol: grpc\nping: ok\ngreet: " + greeting + "\nexited: true\n"
				if stdout.String() != want {
					t.Errorf("gphost printed:\n%s\nwant:\n%s\nstderr:\n%s", &stdout, want, &stderr)
				}
				if !strings.Contains(stderr.String(), "plugin exited") {
					t.Errorf("go-plugin did not log the plugin's exit:\n%s", &stderr)
				}
			})
		}
	}
}

// recorded is a slog.Handler keeping each record's level, message and the
// length of its "filler" attribute.
type recorded struct {
	mu   sync.Mutex
	recs []string // "LEVEL message len(filler)"
}

func (r *recorded) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorded) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *recorded) WithGroup(string) slog.Handler            { return r }

func (r *recorded) Handle(_ context.Context, rec slog.Record) error {
	filler := 0
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key == "filler" {
			filler = len(a.Value.String())
		}
		return true
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, fmt.Sprintf("%v %q %d", rec.Level, rec.Message, filler))
	return nil
}

func (r *recorded) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.recs)
}

// TestGoPluginStdioLines: what a go-plugin plugin writes reaches the host's
// logger line by line, however go-plugin's stdio stream cut it: a JSON
// record longer than one read is one record, two records in one write are
// two, and a stdout line is logged without its newline.
func TestGoPluginStdioLines(t *testing.T) {
	rec := &recorded{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := tether.Launch(ctx, build(t, goPluginGreeter),
		tether.WithHandshake(tetherHandshake), tether.WithInterface("greeter", 1), tether.WithLogger(slog.New(rec)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	g, err := tether.Dispense(c, "greeter", greeterv1.NewGreeterClient)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Greet(ctx, &greeterv1.GreetRequest{Name: "logs"}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`INFO "gpgreeter stdout: greeting logs" 0`,
		`WARN "long record" 3000`,
		`ERROR "first short record" 0`,
		`INFO "second short record" 0`,
	}
	deadline := time.Now().Add(10 * time.Second)
	for !containsAll(rec.all(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("records after 10 s:\n%s\nwant among them:\n%s", strings.Join(rec.all(), "\n"), strings.Join(want, "\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, r := range rec.all() {
		if strings.Contains(r, "xxxxxxxx") || strings.Contains(r, `\n`) {
			t.Errorf("a record holds a piece of a line or a newline: %.200s", r)
		}
	}
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}
