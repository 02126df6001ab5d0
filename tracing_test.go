package tether_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/otlptest"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/plugintest"
)

// mdRecorder is a server interceptor keeping the traceparent of each call.
type mdRecorder struct {
	mu  sync.Mutex
	got []string
}

func (r *mdRecorder) intercept(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	r.mu.Lock()
	r.got = append(r.got, md.Get("traceparent")...)
	r.mu.Unlock()
	return h(ctx, req)
}

func (r *mdRecorder) traceparents() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

// TestTracingOffSendsNothing: a host without WithTracing sends no trace
// context, even when its call is made inside a span and OpenTelemetry's
// global propagator is W3C; with WithTracing it sends one, of the caller's
// trace.
func TestTracingOffSendsNothing(t *testing.T) {
	prev := otel.GetTextMapPropagator()
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() { otel.SetTextMapPropagator(prev) })
	rec := &mdRecorder{}
	p := servePlugin(t, tether.ServeConfig{Name: "echo", Implementations: echoImpls(1),
		UnaryInterceptors: []grpc.UnaryServerInterceptor{rec.intercept}})
	host := otlptest.NewHost(t, "host")
	ctx, span := host.Provider.Tracer("test").Start(t.Context(), "caller")
	defer span.End()
	call := func(opts ...tether.Option) {
		c := openInproc(t, newTestRuntime(p.ep), opts...)
		cctx, cancel := context.WithTimeout(ctx, inprocTimeout)
		defer cancel()
		if _, err := echoClient(t, c).Unary(cctx, &echov1.Message{Text: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	call()
	if got := rec.traceparents(); len(got) != 0 {
		t.Fatalf("a host without WithTracing sent traceparent %q", got)
	}
	call(tether.WithTracing(host.Provider, nil))
	got := rec.traceparents()
	if len(got) != 1 || len(got[0]) < 35 || got[0][3:35] != span.SpanContext().TraceID().String() {
		t.Fatalf("with WithTracing the plugin got traceparent %q, want one of trace %s", got, span.SpanContext().TraceID())
	}
}

// TestTracingServeConfigProvider: a plugin given its TracerProvider in
// ServeConfig traces the calls it serves and its callbacks; with a host
// that traces, a call answered with a callback is one trace.
func TestTracingServeConfigProvider(t *testing.T) {
	plugin := otlptest.NewHost(t, "plugin")
	hc := tether.NewHostConn()
	relay := plugintest.Relay{Host: echov1.NewEchoClient(hc), Log: quiet()}
	p := servePlugin(t, tether.ServeConfig{Name: "relay", Host: hc, TracerProvider: plugin.Provider,
		Implementations: []tether.Implementation{tether.Implement("echo", 1, func(r grpc.ServiceRegistrar) {
			echov1.RegisterEchoServer(r, relay)
		})}})
	host := otlptest.NewHost(t, "host")
	c := openInproc(t, newTestRuntime(p.ep), tether.WithTracing(host.Provider, nil),
		tether.WithCallbacks(func(r grpc.ServiceRegistrar) { echov1.RegisterEchoServer(r, plugintest.TaggedEcho{Tag: "A"}) }))
	resp, err := unary(t, echoClient(t, c), "traced")
	if err != nil || resp.GetText() != "plugin:A:traced" {
		t.Fatalf("relayed call: %q, %v", resp.GetText(), err)
	}
	hs, ps := host.WaitSpans(t, 2, 5*time.Second), plugin.WaitSpans(t, 2, 5*time.Second)
	otlptest.CheckCallback(t, hs, ps, "tether.echo.v1.Echo/Unary", "host", "plugin")
	// tether's own calls (Describe, health, the callback tunnel) make none.
	for _, s := range append(hs, ps...) {
		if s.Name != "tether.echo.v1.Echo/Unary" {
			t.Errorf("span %s (%s, %s): want none but the call's and the callback's", s.Name, s.Kind, s.Process)
		}
	}
}
