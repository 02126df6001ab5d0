package tether

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc"

	"github.com/tetherplug/tether/internal/fastrpc"
)

// The plugin side of tracing: Serve sets it up from the environment (see
// tracingFromEnv), or the plugin's author gives ServeConfig.TracerProvider.

// tracing is the config's tracing, or nil when it sets none.
func (c ServeConfig) tracing() *tracing {
	if c.TracerProvider == nil && c.Propagator == nil {
		return nil
	}
	return newTracing(c.TracerProvider, c.Propagator)
}

// fastServerOptions are the options of a plugin's fast transport server.
func (t *tracing) fastServerOptions() []fastrpc.ServerOption {
	if t == nil {
		return nil
	}
	return []fastrpc.ServerOption{fastrpc.WithServerStatsHandler(t.serverHandler())}
}

// setTracing makes the connections of later callback tunnels trace.
func (h *HostConn) setTracing(t *tracing) {
	h.mu.Lock()
	h.tracing = t
	h.mu.Unlock()
}

// dialOptions are the options of a callback tunnel's connection.
func (h *HostConn) dialOptions() []grpc.DialOption {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.tracing.dialOptions()
}

// Environment variables of OpenTelemetry's SDK that Serve reads (the OTLP
// exporter reads the rest of OTEL_EXPORTER_OTLP_*, the SDK OTEL_TRACES_SAMPLER
// and OTEL_BSP_*, the resource OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES).
const (
	envOtelDisabled       = "OTEL_SDK_DISABLED"
	envOtelExporter       = "OTEL_TRACES_EXPORTER"
	envOtelEndpoint       = "OTEL_EXPORTER_OTLP_ENDPOINT"
	envOtelTracesEndpoint = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	envOtelProtocol       = "OTEL_EXPORTER_OTLP_PROTOCOL"
	envOtelTracesProtocol = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
)

// tracingShutdownTimeout bounds the flush of spans when a plugin stops.
const tracingShutdownTimeout = 3 * time.Second

// tracingFromEnv sets cfg's tracing up from the environment, unless the
// plugin's author set a TracerProvider: an SDK TracerProvider exporting
// over OTLP/gRPC when the OTEL_* variables ask for an exporter, else
// propagation alone when the host traces (EnvTracing=1), else nothing.
// OTEL_SDK_DISABLED=true means no exporter. A variable it cannot use is
// logged once; it never stops the plugin. It returns what flushes and
// shuts the provider down, within tracingShutdownTimeout.
func tracingFromEnv(cfg *ServeConfig, log *slog.Logger) (shutdown func()) {
	shutdown = func() {}
	if cfg.TracerProvider != nil {
		return shutdown
	}
	hostTraces := os.Getenv(EnvTracing) == "1"
	export := wantsExporter(log)
	if !export && !hostTraces {
		return shutdown
	}
	otel.SetErrorHandler(&onceErrors{log: log, seen: map[string]bool{}})
	if !export {
		cfg.TracerProvider = noop.NewTracerProvider() // the context passes through, no span is made
		log.Debug("tracing: passing the host's trace context on, exporting no spans (no OTEL_* exporter set)")
		return shutdown
	}
	tp, err := newSDKProvider(cfg, log)
	if err != nil {
		log.Warn("tracing: cannot set up the OTLP exporter; exporting no spans", "error", err.Error())
		cfg.TracerProvider = noop.NewTracerProvider()
		return shutdown
	}
	cfg.TracerProvider = tp
	otel.SetTracerProvider(tp) // spans the plugin's own code makes join the calls' traces
	if cfg.Propagator != nil {
		otel.SetTextMapPropagator(cfg.Propagator)
	} else {
		otel.SetTextMapPropagator(newTracing(nil, nil).prop)
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), tracingShutdownTimeout)
		defer cancel()
		if err := tp.Shutdown(ctx); err != nil {
			log.Warn("tracing: spans not all exported at shutdown", "error", err.Error())
		}
	}
}

// wantsExporter reads whether the environment asks for a trace exporter,
// logging what it cannot honour.
func wantsExporter(log *slog.Logger) bool {
	if v := os.Getenv(envOtelDisabled); strings.EqualFold(strings.TrimSpace(v), "true") {
		return false
	}
	endpoint := os.Getenv(envOtelEndpoint) != "" || os.Getenv(envOtelTracesEndpoint) != ""
	v, set := os.LookupEnv(envOtelExporter)
	if !set || strings.TrimSpace(v) == "" {
		if endpoint {
			checkProtocol(log)
		}
		return endpoint
	}
	names := strings.Split(strings.ToLower(v), ",")
	for i := range names {
		names[i] = strings.TrimSpace(names[i])
	}
	names = slices.DeleteFunc(names, func(n string) bool { return n == "" || n == "none" })
	otlp := slices.Contains(names, "otlp")
	if others := slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == "otlp" }); len(others) > 0 {
		log.Warn("tracing: tether plugins export spans over OTLP only; ignoring the other exporters named",
			"env", envOtelExporter, "value", v)
	}
	if otlp {
		checkProtocol(log)
	}
	return otlp
}

// checkProtocol warns when the environment asks for an OTLP protocol other
// than gRPC, which is the one a tether plugin speaks.
func checkProtocol(log *slog.Logger) {
	for _, k := range []string{envOtelTracesProtocol, envOtelProtocol} {
		if v := os.Getenv(k); v != "" {
			if v != "grpc" {
				log.Warn("tracing: tether plugins export over OTLP/gRPC only; using grpc", "env", k, "value", v)
			}
			return
		}
	}
}

// newSDKProvider builds the SDK TracerProvider and its OTLP/gRPC exporter
// from the environment; service.name is OTEL_SERVICE_NAME, else the
// plugin's name.
func newSDKProvider(cfg *ServeConfig, log *slog.Logger) (*sdktrace.TracerProvider, error) {
	ctx := context.Background()
	exp, err := otlptracegrpc.New(ctx)
	if err != nil {
		return nil, err
	}
	name := cfg.Name
	if name == "" {
		name = filepath.Base(os.Args[0])
	}
	res, err := resource.New(ctx, resource.WithTelemetrySDK(),
		resource.WithAttributes(attribute.String("service.name", name)), resource.WithFromEnv())
	if err != nil {
		// A malformed OTEL_RESOURCE_ATTRIBUTES: keep what could be read.
		log.Warn("tracing: resource attributes partly unreadable", "error", err.Error())
	}
	return sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res)), nil
}

// onceErrors is OpenTelemetry's error handler in a plugin that traces: it
// logs each distinct error once (an unreachable collector would otherwise
// log on every export), up to onceErrorsMax of them.
type onceErrors struct {
	log  *slog.Logger
	mu   sync.Mutex
	seen map[string]bool
}

const onceErrorsMax = 64

func (h *onceErrors) Handle(err error) {
	msg := err.Error()
	h.mu.Lock()
	first := !h.seen[msg] && len(h.seen) < onceErrorsMax
	h.seen[msg] = true
	h.mu.Unlock()
	if first {
		h.log.Warn("tracing: "+msg, "note", "logged once")
	}
}
