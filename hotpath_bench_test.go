package tether

import (
	"context"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/metadata"
)

// These micro-benchmarks price, one by one, what a tether Client adds to
// each call on the host's side (see docs/benchmarks.md, "Where the time
// goes"). BenchmarkHostPath (hostpath_bench_test.go) prices them together.

type ctxKey int

// grpcLikeContext is a context as deep as the one gRPC hands a picker: the
// caller's, the session metadata and a few values of gRPC's own.
func grpcLikeContext(ctx context.Context) context.Context {
	for i := range 4 {
		ctx = context.WithValue(ctx, ctxKey(i), i)
	}
	return ctx
}

func benchClient() *Client {
	c := &Client{session: newSessionID(), opts: &options{}}
	c.sessionMD = metadata.Pairs(SessionMetadataKey, c.session)
	return c
}

// BenchmarkSessionMetadata compares adding the session id with
// metadata.AppendToOutgoingContext on every call (what the Client did
// first) with outgoing, which attaches metadata built once per Client.
func BenchmarkSessionMetadata(b *testing.B) {
	c := benchClient()
	ctx := context.Background()
	b.Run("append-per-call", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = metadata.AppendToOutgoingContext(ctx, SessionMetadataKey, c.session)
		}
	})
	b.Run("outgoing", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = c.outgoing(ctx)
		}
	})
}

// BenchmarkUnaryInterceptor is the Client's unary interceptor around an
// invoker that does nothing: session metadata, call options, error typing
// of a successful call.
func BenchmarkUnaryInterceptor(b *testing.B) {
	c := benchClient()
	ctx := context.Background()
	invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
	b.ReportAllocs()
	for b.Loop() {
		if err := c.unaryErrors(ctx, "/echo.v1.Echo/Unary", nil, nil, nil, invoker); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPick is the instances picker choosing for an ordinary call,
// which first looks for a pin in the call's context.
func BenchmarkPick(b *testing.B) {
	var sc balancer.SubConn
	p := &picker{admitted: []balancer.SubConn{sc}, byKey: map[string]balancer.SubConn{}}
	info := balancer.PickInfo{FullMethodName: "/echo.v1.Echo/Unary", Ctx: grpcLikeContext(benchClient().outgoing(context.Background()))}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Pick(info); err != nil {
			b.Fatal(err)
		}
	}
}

// TestOutgoingMetadata checks what outgoing sends: the session id alone for
// a call without metadata, the caller's metadata with the session id
// appended otherwise, the shared metadata never changed by a call, and at
// most two allocations for a call without metadata (AppendToOutgoingContext
// made four).
func TestOutgoingMetadata(t *testing.T) {
	c := benchClient()
	id := c.session
	check := func(ctx context.Context, want metadata.MD) {
		t.Helper()
		got, _ := metadata.FromOutgoingContext(c.outgoing(ctx))
		if len(got) != len(want) {
			t.Fatalf("outgoing metadata %v, want %v", got, want)
		}
		for k, vs := range want {
			if g := got.Get(k); len(g) != len(vs) || (len(vs) > 0 && g[len(g)-1] != vs[len(vs)-1]) || g[0] != vs[0] {
				t.Errorf("metadata %s = %q, want %q", k, g, vs)
			}
		}
	}
	check(context.Background(), metadata.Pairs(SessionMetadataKey, id))
	user := metadata.AppendToOutgoingContext(context.Background(), "Trace", "t1")
	check(user, metadata.MD{"trace": {"t1"}, SessionMetadataKey: {id}})
	forged := metadata.NewOutgoingContext(context.Background(), metadata.Pairs(SessionMetadataKey, "x"))
	check(forged, metadata.MD{SessionMetadataKey: {"x", id}})
	if v := c.sessionMD.Get(SessionMetadataKey); len(v) != 1 || v[0] != id || len(c.sessionMD) != 1 {
		t.Errorf("a call changed the client's shared metadata: %v", c.sessionMD)
	}
	if n := testing.AllocsPerRun(100, func() { _ = c.outgoing(context.Background()) }); n > 2 {
		t.Errorf("outgoing made %v allocations for a call without metadata, want at most 2", n)
	}
}
