package grpcproxy_test

import (
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/tetherplug/tether/internal/grpcproxy"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/plugintest"
)

// TestProxyPassesTraceContext: the trace context a caller sends (W3C
// traceparent metadata) reaches the upstream through the proxy, so the
// upstream's server span is the child of the caller's client span.
func TestProxyPassesTraceContext(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	otelOpts := []otelgrpc.Option{otelgrpc.WithTracerProvider(tp), otelgrpc.WithPropagators(propagation.TraceContext{})}
	dir := t.TempDir()
	listen := func(name string) net.Listener {
		lis, err := net.Listen("unix", filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return lis
	}
	dial := func(lis net.Listener, opts ...grpc.DialOption) *grpc.ClientConn {
		cc, err := grpc.NewClient("unix://"+lis.Addr().String(), append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cc.Close() })
		return cc
	}
	upLis := listen("up.sock")
	up := grpc.NewServer(grpc.StatsHandler(otelgrpc.NewServerHandler(otelOpts...)))
	echov1.RegisterEchoServer(up, plugintest.EchoServer{})
	go func() { _ = up.Serve(upLis) }()
	t.Cleanup(up.Stop)
	px, err := grpcproxy.New(grpcproxy.Config{Upstream: dial(upLis)})
	if err != nil {
		t.Fatal(err)
	}
	pxLis := listen("px.sock")
	psrv := px.NewServer()
	go func() { _ = psrv.Serve(pxLis) }()
	t.Cleanup(psrv.Stop)

	cc := dial(pxLis, grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelOpts...)))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := echov1.NewEchoClient(cc).Unary(ctx, &echov1.Message{Text: "x"}); err != nil {
		t.Fatal(err)
	}
	var client, server sdktrace.ReadOnlySpan
	deadline := time.Now().Add(5 * time.Second)
	for client == nil || server == nil {
		if time.Now().After(deadline) {
			t.Fatalf("spans %v: want the caller's client span and the upstream's server span", rec.Ended())
		}
		for _, s := range rec.Ended() {
			switch s.SpanKind() {
			case trace.SpanKindClient:
				client = s
			case trace.SpanKindServer:
				server = s
			}
		}
		time.Sleep(2 * time.Millisecond) // the server span ends just after its reply
	}
	if server.Parent().SpanID() != client.SpanContext().SpanID() || server.SpanContext().TraceID() != client.SpanContext().TraceID() {
		t.Errorf("upstream span parent %v in trace %v; want the caller's span %v of trace %v", server.Parent().SpanID(),
			server.SpanContext().TraceID(), client.SpanContext().SpanID(), client.SpanContext().TraceID())
	}
}
