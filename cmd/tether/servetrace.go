package main

import (
	"context"
	"log/slog"
	"os"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/propagation"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/otelenv"
)

// serveTracing is tether serve's own tracing, from the environment as a
// plugin's (OTEL_* variables, TETHER_TRACING=1): a server span per call it
// forwards, whose context the call carries on to the plugin. Without it,
// the proxy still passes the caller's trace context through unchanged.
type serveTracing struct {
	opts     []grpc.ServerOption
	prop     propagation.TextMapPropagator // nil: not tracing
	shutdown func()
}

func newServeTracing(log *slog.Logger) serveTracing {
	s := otelenv.FromEnv("tether-serve", os.Getenv(tether.EnvTracing) == "1", log)
	if s.Provider == nil {
		return serveTracing{shutdown: s.Shutdown}
	}
	prop := otelenv.DefaultPropagator()
	h := otelgrpc.NewServerHandler(otelgrpc.WithTracerProvider(s.Provider), otelgrpc.WithPropagators(prop),
		otelgrpc.WithFilter(otelenv.Traced))
	return serveTracing{opts: []grpc.ServerOption{grpc.StatsHandler(h)}, prop: prop, shutdown: s.Shutdown}
}

// upstream is up, sending the context of serve's span with each call when
// serve traces.
func (t serveTracing) upstream(up grpc.ClientConnInterface) grpc.ClientConnInterface {
	if t.prop == nil {
		return up
	}
	return tracedUpstream{up, t.prop}
}

// tracedUpstream injects the trace context of each call's context into its
// outgoing metadata, over the caller's.
type tracedUpstream struct {
	grpc.ClientConnInterface
	prop propagation.TextMapPropagator
}

func (u tracedUpstream) inject(ctx context.Context) context.Context {
	md, _ := metadata.FromOutgoingContext(ctx) // a copy
	if md == nil {
		md = metadata.MD{}
	}
	u.prop.Inject(ctx, mdCarrier(md))
	return metadata.NewOutgoingContext(ctx, md)
}

func (u tracedUpstream) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	return u.ClientConnInterface.Invoke(u.inject(ctx), method, args, reply, opts...)
}

func (u tracedUpstream) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return u.ClientConnInterface.NewStream(u.inject(ctx), desc, method, opts...)
}

// mdCarrier is gRPC metadata as a propagation carrier.
type mdCarrier metadata.MD

func (c mdCarrier) Get(k string) string {
	if vs := metadata.MD(c).Get(k); len(vs) > 0 {
		return vs[0]
	}
	return ""
}

func (c mdCarrier) Set(k, v string) { metadata.MD(c).Set(k, v) }

func (c mdCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}
