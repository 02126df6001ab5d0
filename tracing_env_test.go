package tether

import (
	"bytes"
	"log/slog"
	"os"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/tetherplug/tether/internal/otelenv"
)

// clearOtelEnv unsets, for the test, every variable tracingFromEnv reads.
func clearOtelEnv(t *testing.T) {
	for _, k := range []string{EnvTracing, otelenv.EnvDisabled, otelenv.EnvExporter, otelenv.EnvEndpoint, otelenv.EnvTracesEndpoint,
		otelenv.EnvProtocol, otelenv.EnvTracesProtocol} {
		t.Setenv(k, "")
	}
	prevTP, prevProp, prevErr := otel.GetTracerProvider(), otel.GetTextMapPropagator(), otel.GetErrorHandler()
	t.Cleanup(func() {
		otel.SetTracerProvider(prevTP)
		otel.SetTextMapPropagator(prevProp)
		otel.SetErrorHandler(prevErr)
	})
}

func envTracing(t *testing.T, kvs ...string) (ServeConfig, string, func()) {
	clearOtelEnv(t)
	for _, kv := range kvs {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	var logs bytes.Buffer
	cfg := ServeConfig{Name: "p"}
	shutdown := tracingFromEnv(&cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	return cfg, logs.String(), shutdown
}

// Serve sets tracing up from the environment: nothing without OTEL_* or
// EnvTracing; propagation alone with EnvTracing=1 and no exporter; the SDK
// with an OTLP endpoint; OTEL_SDK_DISABLED=true wins; an author's
// TracerProvider is left alone.
func TestTracingFromEnv(t *testing.T) {
	t.Run("nothing", func(t *testing.T) {
		if cfg, _, _ := envTracing(t); cfg.TracerProvider != nil {
			t.Errorf("TracerProvider %T without OTEL_* or %s", cfg.TracerProvider, EnvTracing)
		}
	})
	t.Run("propagation only", func(t *testing.T) {
		if cfg, _, _ := envTracing(t, EnvTracing+"=1"); cfg.TracerProvider != (noop.TracerProvider{}) {
			t.Errorf("TracerProvider %T, want the no-op one that passes the context on", cfg.TracerProvider)
		}
	})
	t.Run("exporter", func(t *testing.T) {
		cfg, _, shutdown := envTracing(t, otelenv.EnvEndpoint+"=http://127.0.0.1:1")
		defer shutdown()
		if _, ok := cfg.TracerProvider.(*sdktrace.TracerProvider); !ok {
			t.Errorf("TracerProvider %T, want the SDK's", cfg.TracerProvider)
		}
	})
	t.Run("disabled wins", func(t *testing.T) {
		cfg, _, _ := envTracing(t, otelenv.EnvEndpoint+"=http://127.0.0.1:1", otelenv.EnvDisabled+"=true", EnvTracing+"=1")
		if cfg.TracerProvider != (noop.TracerProvider{}) {
			t.Errorf("TracerProvider %T with %s=true, want no exporter", cfg.TracerProvider, otelenv.EnvDisabled)
		}
	})
	t.Run("author's provider", func(t *testing.T) {
		clearOtelEnv(t)
		t.Setenv(otelenv.EnvEndpoint, "http://127.0.0.1:1")
		mine := noop.NewTracerProvider()
		cfg := ServeConfig{TracerProvider: mine}
		tracingFromEnv(&cfg, slog.New(slog.DiscardHandler))()
		if cfg.TracerProvider != mine {
			t.Errorf("the author's TracerProvider was replaced by %T", cfg.TracerProvider)
		}
	})
}

// A variable tether cannot honour is logged, once, and never stops the
// plugin.
func TestTracingFromEnvBadVariables(t *testing.T) {
	cfg, logs, _ := envTracing(t, otelenv.EnvExporter+"=zipkin", EnvTracing+"=1")
	if cfg.TracerProvider != (noop.TracerProvider{}) {
		t.Errorf("TracerProvider %T, want propagation alone", cfg.TracerProvider)
	}
	if !strings.Contains(logs, "spans are exported over OTLP only") || !strings.Contains(logs, "zipkin") {
		t.Errorf("logs %q: want the unsupported exporter named", logs)
	}
	logsBefore := logs
	cfg, logs, shutdown := envTracing(t, otelenv.EnvEndpoint+"=http://127.0.0.1:1", otelenv.EnvProtocol+"=http/protobuf")
	defer shutdown()
	if _, ok := cfg.TracerProvider.(*sdktrace.TracerProvider); !ok {
		t.Errorf("TracerProvider %T, want the SDK's", cfg.TracerProvider)
	}
	if strings.Count(logs, "OTLP/gRPC only") != 1 {
		t.Errorf("logs %q: want the protocol warned about once", logs)
	}
	doc, err := os.ReadFile("docs/observability.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, msg := range []string{"spans are exported over OTLP only", "spans are exported over OTLP/gRPC only; using grpc"} {
		if !strings.Contains(logs+logsBefore, msg) || !strings.Contains(string(doc), msg) {
			t.Errorf("%q: want it logged and quoted in docs/observability.md", msg)
		}
	}
	var buf bytes.Buffer
	h := &otelenv.OnceErrors{Log: slog.New(slog.NewTextHandler(&buf, nil))}
	for range 3 {
		h.Handle(errString("collector unreachable"))
	}
	if n := strings.Count(buf.String(), "collector unreachable"); n != 1 {
		t.Errorf("an error repeated 3 times was logged %d times, want once", n)
	}
}

type errString string

func (e errString) Error() string { return string(e) }
