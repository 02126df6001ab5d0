package tether

import (
	"sync"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/stats"

	"github.com/tetherplug/tether/internal/fastrpc"
	"github.com/tetherplug/tether/internal/otelenv"
)

// WithTracing traces the host's calls to the plugin and the plugin's
// callbacks to the host with OpenTelemetry (otelgrpc's stats handlers), on
// gRPC and on the fast local transport alike: a client span per call, a
// server span per callback, and the trace context sent with each call so
// that the plugin's spans join the host's trace.
//
// tp makes the spans; nil means OpenTelemetry's global TracerProvider
// (otel.GetTracerProvider), looked up per span, so one set later still
// applies. prop carries the trace context across; nil means W3C Trace
// Context and Baggage, not the global propagator (which is a no-op until
// set, and would cut the trace at the plugin).
//
// A plugin the host launches is told to trace (EnvTracing=1; the host's
// OTEL_* variables reach it with the rest of its environment): it always
// passes the trace context on to its callbacks, and exports its own spans
// when its OTEL_* variables name an exporter. See docs/observability.md.
//
// tether's own calls (Describe, health checks, the callback tunnel and
// stdio streams, Shutdown) make no spans.
func WithTracing(tp trace.TracerProvider, prop propagation.TextMapPropagator) Option {
	t := newTracing(tp, prop)
	return hostOption(func(o *options) { o.tracing = t })
}

// tracing is a tracer provider and propagator and the otelgrpc handlers
// made of them, built once and shared by every connection that uses them.
type tracing struct {
	tp   trace.TracerProvider // nil: otel's global one
	prop propagation.TextMapPropagator

	clientOnce, serverOnce sync.Once
	client, server         stats.Handler
}

func newTracing(tp trace.TracerProvider, prop propagation.TextMapPropagator) *tracing {
	if prop == nil {
		prop = otelenv.DefaultPropagator()
	}
	return &tracing{tp: tp, prop: prop}
}

func (t *tracing) otelOptions() []otelgrpc.Option {
	opts := []otelgrpc.Option{otelgrpc.WithPropagators(t.prop), otelgrpc.WithFilter(otelenv.Traced)}
	if t.tp != nil {
		opts = append(opts, otelgrpc.WithTracerProvider(t.tp))
	}
	return opts
}

// clientHandler is the stats handler of connections that make calls; nil
// when t is nil (no tracing).
func (t *tracing) clientHandler() stats.Handler {
	if t == nil {
		return nil
	}
	t.clientOnce.Do(func() { t.client = otelgrpc.NewClientHandler(t.otelOptions()...) })
	return t.client
}

// serverHandler is the stats handler of servers; nil when t is nil.
func (t *tracing) serverHandler() stats.Handler {
	if t == nil {
		return nil
	}
	t.serverOnce.Do(func() { t.server = otelgrpc.NewServerHandler(t.otelOptions()...) })
	return t.server
}

// dialOptions are the gRPC dial options of a host's connection to a
// plugin: none without tracing.
func (t *tracing) dialOptions() []grpc.DialOption {
	if t == nil {
		return nil
	}
	return []grpc.DialOption{grpc.WithStatsHandler(t.clientHandler())}
}

// fastOptions are the options of a host's fast connections.
func (t *tracing) fastOptions() []fastrpc.ClientOption {
	if t == nil {
		return nil
	}
	return []fastrpc.ClientOption{fastrpc.WithStatsHandler(t.clientHandler())}
}

// serverOptions are the options of a gRPC server that serves calls: the
// host's callback server, a plugin's server.
func (t *tracing) serverOptions() []grpc.ServerOption {
	if t == nil {
		return nil
	}
	return []grpc.ServerOption{grpc.StatsHandler(t.serverHandler())}
}
