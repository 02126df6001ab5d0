package fastrpc

import (
	"context"
	"net"
	"testing"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/plugintest"
)

// The cost of tracing: the same sides as BenchmarkCallers16 and
// BenchmarkUnary64B with otelgrpc's handlers on both ends, every call
// sampled and its spans dropped (an SDK provider with no exporter), beside
// the same sides untraced in one run:
//
//	go test -run '^$' -bench 'Traced' -benchtime 2s ./internal/fastrpc

func tracedSides(b *testing.B) []struct {
	name string
	call func() func() error
} {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	opt := otelgrpc.WithTracerProvider(tp)
	fast, _ := startServer(b, plugintest.EchoServer{}, []ServerOption{WithServerStatsHandler(otelgrpc.NewServerHandler(opt))},
		WithStatsHandler(otelgrpc.NewClientHandler(opt)))
	return []struct {
		name string
		call func() func() error
	}{
		{"fastrpc", stubSide(b, fastConn(b))},
		{"fastrpc-traced", stubSide(b, fast)},
		{"grpc", stubSide(b, grpcConn(b))},
		{"grpc-traced", stubSide(b, tracedGRPCConn(b, opt))},
	}
}

func tracedGRPCConn(b *testing.B, opt otelgrpc.Option) *grpc.ClientConn {
	path := sockPath(b)
	lis, err := net.Listen("unix", path)
	if err != nil {
		b.Fatal(err)
	}
	srv := grpc.NewServer(grpc.StatsHandler(otelgrpc.NewServerHandler(opt)))
	echov1.RegisterEchoServer(srv, plugintest.EchoServer{})
	go func() { _ = srv.Serve(lis) }()
	cc, err := grpc.NewClient("unix://"+path, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithStatsHandler(otelgrpc.NewClientHandler(opt)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cc.Close(); srv.Stop() })
	return cc
}

func BenchmarkTracedCallers16(b *testing.B) {
	for _, side := range tracedSides(b) {
		b.Run(side.name, func(b *testing.B) { runCallers16(b, side.call) })
	}
}
