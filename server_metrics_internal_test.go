package tether

import (
	"context"
	"testing"

	"google.golang.org/grpc"

	"github.com/tetherplug/tether/internal/pb/tetherv1"
)

// BenchmarkServerMetricsInterceptor is what counting adds to one served
// unary call: the metrics' interceptor around a handler that does nothing.
func BenchmarkServerMetricsInterceptor(b *testing.B) {
	m := newServerMetrics()
	m.count([]*tetherv1.Interface{{Services: []*tetherv1.Service{{Name: "echo.v1.Echo", Methods: []string{"Unary"}}}}})
	info := &grpc.UnaryServerInfo{FullMethod: "/echo.v1.Echo/Unary"}
	handler := func(context.Context, any) (any, error) { return nil, nil }
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_, _ = m.unary(ctx, nil, info, handler)
	}
}
