package metrics

import (
	"context"
	"testing"

	"google.golang.org/grpc"
)

// BenchmarkInterceptor is what counting costs one unary call: the
// interceptor around an invoker that does nothing, 16 callers.
func BenchmarkInterceptor(b *testing.B) {
	cm := &clientMetrics{m: New(), plugin: "bench"}
	noop := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = cm.unary(context.Background(), "/bench.v1.Bench/Call", nil, nil, nil, noop)
		}
	})
}
