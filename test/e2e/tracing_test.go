package e2e_test

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/otlptest"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/tethertest"
)

const echoUnarySpan = "tether.echo.v1.Echo/Unary"

// update rewrites docs/observability-trace.txt and .svg from the trace
// collected.
var update = flag.Bool("update", false, "rewrite docs/observability-trace.txt and docs/observability-trace.svg")

// traceGolden is the rendering of the trace docs/observability.md shows.
const traceGolden = "../../docs/observability-trace.txt"

// setEnv sets each KEY=VALUE for the test (a launched plugin inherits it).
func setEnv(t *testing.T, kvs ...string) {
	for _, kv := range kvs {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

// launchTraced launches the callback plugin from a host that traces into
// host.
func launchTraced(t *testing.T, host *otlptest.Host) (*tether.Client, echov1.EchoClient) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := tether.Launch(ctx, tethertest.Build(t, callbackPlugin),
		tether.WithLogger(slog.New(slog.NewJSONHandler(io.Discard, nil))),
		tether.WithTracing(host.Provider, nil),
		tether.WithCallbacks(func(r grpc.ServiceRegistrar) { echov1.RegisterEchoServer(r, &hostEcho{}) }))
	if err != nil {
		t.Fatalf("Launch: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	tethertest.RequireTransport(t, c.Name(), c.Transport())
	echo, err := tether.Dispense(c, "echo", echov1.NewEchoClient)
	if err != nil {
		t.Fatal(err)
	}
	return c, echo
}

func relay(t *testing.T, echo echov1.EchoClient) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := echo.Unary(ctx, &echov1.Message{Text: "traced"})
	if err != nil || resp.GetText() != "plugin:host:traced" {
		t.Fatalf("relayed call: %q, %v", resp.GetText(), err)
	}
}

// TestTracingLaunchedPluginOneTrace: a host that traces calls a launched
// plugin, which answers with a callback to the host; the plugin, told by
// its host to trace and by the inherited OTEL_* variables where to export,
// exports its spans to a collector. The host's and the plugin's spans make
// one trace: host client → plugin server → plugin client → host server.
// The suite runs on the fast transport and again with TETHER_TRANSPORT=grpc.
func TestTracingLaunchedPluginOneTrace(t *testing.T) {
	rcv := otlptest.NewReceiver(t)
	setEnv(t, rcv.Env()...)
	host := otlptest.NewHost(t, "host")
	_, echo := launchTraced(t, host)
	relay(t, echo) // the first call's trace, then a warm one's: the picture shows the second
	relay(t, echo)
	hs := lastTrace(host.WaitSpans(t, 4, 5*time.Second))
	ps := rcv.WaitSpans(t, hs[0].TraceID, 2, 10*time.Second)
	chain := otlptest.CheckCallback(t, hs, ps, echoUnarySpan, "host", "callback")
	checkGolden(t, otlptest.Tree(chain))
	checkPicture(t, chain)
}

// lastTrace returns the spans of the trace of the span that started last.
func lastTrace(spans []otlptest.Span) []otlptest.Span {
	latest := slices.MaxFunc(spans, func(a, b otlptest.Span) int { return a.Start.Compare(b.Start) })
	return slices.DeleteFunc(slices.Clone(spans), func(s otlptest.Span) bool { return s.TraceID != latest.TraceID })
}

// tracePicture is the waterfall docs/observability.md shows, rewritten
// with -update from the trace collected.
const tracePicture = "../../docs/observability-trace.svg"

// checkPicture rewrites the picture with -update, and checks that it shows
// the spans of the trace collected, in the same tree.
func checkPicture(t *testing.T, chain []otlptest.Span) {
	if *update {
		if err := os.WriteFile(tracePicture, otlptest.SVG(chain), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	svg, err := os.ReadFile(tracePicture)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := otlptest.SVGLabels(svg), otlptest.Tree(chain); got != want {
		t.Errorf("%s shows\n%s\nbut the trace is\n%s\n(run with -update to rewrite it)", tracePicture, got, want)
	}
}

// checkGolden compares the rendered trace with the golden file the docs
// include (and docs/observability.md with it), or rewrites the file with
// -update.
func checkGolden(t *testing.T, tree string) {
	if *update {
		if err := os.WriteFile(traceGolden, []byte(tree), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	golden, err := os.ReadFile(traceGolden)
	if err != nil {
		t.Fatal(err)
	}
	if string(golden) != tree {
		t.Errorf("the trace renders as\n%s\nbut %s has\n%s\n(run with -update to rewrite it)", tree, traceGolden, golden)
	}
	doc, err := os.ReadFile("../../docs/observability.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), tree) {
		t.Errorf("docs/observability.md does not include the trace as rendered:\n%s", tree)
	}
}

// TestTracingLaunchedPluginWithoutExporter: with no OTEL_* exporter in its
// environment, a plugin whose host traces still passes the trace context
// on, so the host's callback span is the child of its call's span.
func TestTracingLaunchedPluginWithoutExporter(t *testing.T) {
	setEnv(t, "OTEL_EXPORTER_OTLP_ENDPOINT=", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=", "OTEL_TRACES_EXPORTER=")
	host := otlptest.NewHost(t, "host")
	_, echo := launchTraced(t, host)
	relay(t, echo)
	hs := host.WaitSpans(t, 2, 5*time.Second)
	var client, server otlptest.Span
	for _, s := range hs {
		switch s.Kind {
		case "client":
			client = s
		case "server":
			server = s
		}
	}
	if server.TraceID != client.TraceID || server.ParentID != client.SpanID {
		t.Fatalf("host spans %+v: want the callback's server span a child of the call's client span", hs)
	}
}
