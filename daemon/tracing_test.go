package daemon_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/daemon"
	"github.com/tetherplug/tether/internal/otlptest"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/plugintest"
	"github.com/tetherplug/tether/supervise"
	"github.com/tetherplug/tether/tethertest"
)

// TestRunTargetTracing: a daemon started with the standard OTEL_*
// variables (as `OTEL_EXPORTER_OTLP_ENDPOINT=... tether run` is) passes
// them to the plugins it launches, which export their spans; a host that
// traces and reaches a plugin by run://NAME gets one trace for a call the
// plugin answers with a callback: host client → plugin server → plugin
// client → host server.
func TestRunTargetTracing(t *testing.T) {
	rcv := otlptest.NewReceiver(t)
	for _, kv := range rcv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	dir, err := os.MkdirTemp("", "tether-run-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	manifest := filepath.Join(dir, "plugins.yaml")
	yaml := "data_dir: " + filepath.Join(dir, "data") + "\nsocket: " + filepath.Join(dir, "control.sock") +
		"\nplugins:\n  - name: cb\n    path: " + tethertest.Build(t, plugintest.CallbackPlugin) + "\n"
	if err := os.WriteFile(manifest, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := daemon.Start(context.Background(), manifest, daemon.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := d.Close(ctx); err != nil {
			t.Errorf("closing the daemon: %v", err)
		}
	})
	plugintest.Eventually(t, 30*time.Second, "cb running", func() bool { return status(t, d, "cb").State == supervise.StateRunning })

	host := otlptest.NewHost(t, "host")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := tether.Open(ctx, "run://cb?socket="+d.Socket(), tether.WithStartTimeout(20*time.Second),
		tether.WithLogger(slog.New(slog.DiscardHandler)),
		tether.WithTracing(host.Provider, nil),
		tether.WithCallbacks(func(r grpc.ServiceRegistrar) { echov1.RegisterEchoServer(r, plugintest.TaggedEcho{Tag: "A"}) }))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	resp, err := echov1.NewEchoClient(c.Conn()).Unary(ctx, &echov1.Message{Text: "traced"})
	if err != nil || resp.GetText() != "plugin:A:traced" {
		t.Fatalf("relayed call: %q, %v", resp.GetText(), err)
	}
	hs := host.WaitSpans(t, 2, 5*time.Second)
	ps := rcv.WaitSpans(t, hs[0].TraceID, 2, 10*time.Second)
	otlptest.CheckCallback(t, hs, ps, "tether.echo.v1.Echo/Unary", "host", "callback")
}
