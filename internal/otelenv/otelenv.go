// Package otelenv sets OpenTelemetry tracing up for processes tether
// starts or runs as a service (plugins, tether serve) from the standard
// OTEL_* environment variables, and holds what tether's hosts and plugins
// share about tracing: the default propagator and which calls make spans.
package otelenv

import (
	"context"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc/stats"

	"github.com/tetherplug/tether/internal/goplugin"
	"github.com/tetherplug/tether/internal/pb/tetherv1"
)

// Environment variables of OpenTelemetry's SDK that FromEnv reads. The
// OTLP exporter reads the rest of OTEL_EXPORTER_OTLP_*, the SDK
// OTEL_TRACES_SAMPLER and OTEL_BSP_*, the resource OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES.
const (
	EnvDisabled       = "OTEL_SDK_DISABLED"
	EnvExporter       = "OTEL_TRACES_EXPORTER"
	EnvEndpoint       = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvTracesEndpoint = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	EnvProtocol       = "OTEL_EXPORTER_OTLP_PROTOCOL"
	EnvTracesProtocol = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
)

// ShutdownTimeout bounds the flush of spans when the process stops.
const ShutdownTimeout = 3 * time.Second

// DefaultPropagator is W3C Trace Context and Baggage.
func DefaultPropagator() propagation.TextMapPropagator {
	return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
}

// Setup is the tracing the environment asks for.
type Setup struct {
	// Provider makes the spans: an SDK TracerProvider exporting over
	// OTLP/gRPC, or a no-op one that passes the trace context on and
	// exports nothing; nil when the environment asks for no tracing.
	Provider trace.TracerProvider
	// Shutdown flushes and stops Provider, within ShutdownTimeout.
	Shutdown func()
}

// FromEnv reads the environment: an SDK TracerProvider exporting over
// OTLP/gRPC when the OTEL_* variables ask for an exporter (service.name
// is OTEL_SERVICE_NAME, else name), installed as OpenTelemetry's global
// provider with W3C propagation; else propagation alone when propagate
// (the process's host traces); else nothing. OTEL_SDK_DISABLED=true means
// no exporter. What it cannot honour it logs, once; it never fails.
func FromEnv(name string, propagate bool, log *slog.Logger) Setup {
	none := Setup{Shutdown: func() {}}
	export := wantsExporter(log)
	if !export && !propagate {
		return none
	}
	otel.SetErrorHandler(&OnceErrors{Log: log})
	if !export {
		log.Debug("tracing: passing the trace context on, exporting no spans (no OTEL_* exporter set)")
		return Setup{Provider: noop.NewTracerProvider(), Shutdown: func() {}}
	}
	tp, err := newSDKProvider(name, log)
	if err != nil {
		log.Warn("tracing: cannot set up the OTLP exporter; exporting no spans", "error", err.Error())
		return Setup{Provider: noop.NewTracerProvider(), Shutdown: func() {}}
	}
	otel.SetTracerProvider(tp) // spans the process's own code makes join the calls' traces
	otel.SetTextMapPropagator(DefaultPropagator())
	return Setup{Provider: tp, Shutdown: func() {
		ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
		defer cancel()
		if err := tp.Shutdown(ctx); err != nil {
			log.Warn("tracing: spans not all exported at shutdown", "error", err.Error())
		}
	}}
}

// wantsExporter reads whether the environment asks for a trace exporter,
// logging what it cannot honour.
func wantsExporter(log *slog.Logger) bool {
	if v := os.Getenv(EnvDisabled); strings.EqualFold(strings.TrimSpace(v), "true") {
		return false
	}
	endpoint := os.Getenv(EnvEndpoint) != "" || os.Getenv(EnvTracesEndpoint) != ""
	v := os.Getenv(EnvExporter)
	if strings.TrimSpace(v) == "" {
		if endpoint {
			checkProtocol(log)
		}
		return endpoint
	}
	var names []string
	for n := range strings.SplitSeq(strings.ToLower(v), ",") {
		if n = strings.TrimSpace(n); n != "" && n != "none" {
			names = append(names, n)
		}
	}
	otlp := slices.Contains(names, "otlp")
	if slices.ContainsFunc(names, func(n string) bool { return n != "otlp" }) {
		log.Warn("tracing: spans are exported over OTLP only; ignoring the other exporters named",
			"env", EnvExporter, "value", v)
	}
	if otlp {
		checkProtocol(log)
	}
	return otlp
}

// checkProtocol warns when the environment asks for an OTLP protocol other
// than gRPC, the one tether speaks.
func checkProtocol(log *slog.Logger) {
	for _, k := range []string{EnvTracesProtocol, EnvProtocol} {
		if v := os.Getenv(k); v != "" {
			if v != "grpc" {
				log.Warn("tracing: spans are exported over OTLP/gRPC only; using grpc", "env", k, "value", v)
			}
			return
		}
	}
}

// newSDKProvider builds the SDK TracerProvider and its OTLP/gRPC exporter
// from the environment.
func newSDKProvider(name string, log *slog.Logger) (*sdktrace.TracerProvider, error) {
	ctx := context.Background()
	exp, err := otlptracegrpc.New(ctx)
	if err != nil {
		return nil, err
	}
	res, err := resource.New(ctx, resource.WithTelemetrySDK(),
		resource.WithAttributes(attribute.String("service.name", name)), resource.WithFromEnv())
	if err != nil {
		// A malformed OTEL_RESOURCE_ATTRIBUTES: keep what could be read.
		log.Warn("tracing: resource attributes partly unreadable", "error", err.Error())
	}
	return sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res)), nil
}

// OnceErrors is an OpenTelemetry error handler that logs each distinct
// error once (an unreachable collector would otherwise log on every
// export), up to onceErrorsMax of them.
type OnceErrors struct {
	Log  *slog.Logger
	mu   sync.Mutex
	seen map[string]bool
}

const onceErrorsMax = 64

// Handle logs err unless it was logged before.
func (h *OnceErrors) Handle(err error) {
	msg := err.Error()
	h.mu.Lock()
	if h.seen == nil {
		h.seen = map[string]bool{}
	}
	first := !h.seen[msg] && len(h.seen) < onceErrorsMax
	h.seen[msg] = true
	h.mu.Unlock()
	if first {
		h.Log.Warn("tracing: "+msg, "note", "logged once")
	}
}

// untracedServices are tether's and gRPC's own services, whose calls make
// no spans: they are not the plugin's work, and the long-lived streams
// among them would make spans as long as a plugin's life.
var untracedServices = map[string]bool{
	tetherv1.Plugin_ServiceDesc.ServiceName:    true,
	tetherv1.Callbacks_ServiceDesc.ServiceName: true,
	goplugin.ControllerService:                 true,
	goplugin.StdioService:                      true,
	"grpc.health.v1.Health":                    true,
	"grpc.reflection.v1.ServerReflection":      true,
	"grpc.reflection.v1alpha.ServerReflection": true,
}

// Traced is the otelgrpc filter of tether's handlers: false for the calls
// of tether's and gRPC's own services. The trace context still passes
// through them.
func Traced(info *stats.RPCTagInfo) bool {
	service, _, _ := strings.Cut(strings.TrimPrefix(info.FullMethodName, "/"), "/")
	return !untracedServices[service]
}
