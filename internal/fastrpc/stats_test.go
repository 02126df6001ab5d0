package fastrpc

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"

	"github.com/tetherplug/tether/internal/pb/echov1"
)

// recorder is a stats.Handler that records the events of each call, by
// type name, in order. As a client handler it adds metadata "x-tag" to the
// outgoing context in TagRPC; as a server handler it records the x-tag it
// finds in the incoming context in TagRPC.
type recorder struct {
	client bool
	mu     sync.Mutex
	events []string
	tags   []string // server: x-tag seen by TagRPC
	errs   []error  // End errors
	ended  chan struct{}
}

func newRecorder(client bool) *recorder {
	return &recorder{client: client, ended: make(chan struct{}, 16)}
}

func (r *recorder) TagRPC(ctx context.Context, info *stats.RPCTagInfo) context.Context {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, "Tag "+info.FullMethodName)
	if r.client {
		return metadata.AppendToOutgoingContext(ctx, "x-tag", "from-tagrpc")
	}
	md, _ := metadata.FromIncomingContext(ctx)
	r.tags = append(r.tags, first(md["x-tag"]))
	return ctx
}

func (r *recorder) HandleRPC(_ context.Context, s stats.RPCStats) {
	r.mu.Lock()
	if s.IsClient() != r.client {
		r.events = append(r.events, fmt.Sprintf("WRONG SIDE %T", s))
	}
	name := strings.TrimPrefix(fmt.Sprintf("%T", s), "*stats.")
	r.events = append(r.events, name)
	end, isEnd := s.(*stats.End)
	if isEnd {
		r.errs = append(r.errs, end.Error)
	}
	r.mu.Unlock()
	if isEnd {
		r.ended <- struct{}{}
	}
}

func (*recorder) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (*recorder) HandleConn(context.Context, stats.ConnStats)                       {}

func (r *recorder) snapshot() ([]string, []string, []error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events), slices.Clone(r.tags), slices.Clone(r.errs)
}

func statsPair(t *testing.T) (echov1.EchoClient, *recorder, *recorder) {
	cr, sr := newRecorder(true), newRecorder(false)
	cc, _ := startServer(t, newTestEcho(), []ServerOption{WithServerStatsHandler(sr)}, WithStatsHandler(cr))
	return echov1.NewEchoClient(cc), cr, sr
}

// A unary call reports grpc-go's events in grpc-go's order on both sides,
// and the metadata the client's TagRPC adds reaches the server's TagRPC
// (which is how a trace context travels).
func TestStatsHandlerUnary(t *testing.T) {
	c, cr, sr := statsPair(t)
	if _, err := c.Unary(ctxTimeout(t, 5*time.Second), &echov1.Message{Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	// The client's End comes before Unary returns; the server's soon after.
	recvCtx(t, sr.ended, 5*time.Second, "server End")
	ce, _, cerrs := cr.snapshot()
	want := []string{"Tag /tether.echo.v1.Echo/Unary", "Begin", "OutHeader", "OutPayload", "InPayload", "InTrailer", "End"}
	if !slices.Equal(ce, want) {
		t.Errorf("client events %q, want %q", ce, want)
	}
	se, tags, serrs := sr.snapshot()
	want = []string{"Tag /tether.echo.v1.Echo/Unary", "InHeader", "Begin", "InPayload", "OutPayload", "OutTrailer", "End"}
	if !slices.Equal(se, want) {
		t.Errorf("server events %q, want %q", se, want)
	}
	if !slices.Equal(tags, []string{"from-tagrpc"}) {
		t.Errorf("server TagRPC saw x-tag %q, want the client TagRPC's", tags)
	}
	if cerrs[0] != nil || serrs[0] != nil {
		t.Errorf("End errors %v, %v; want nil", cerrs, serrs)
	}
}

// A failing call reports its status in End on both sides.
func TestStatsHandlerError(t *testing.T) {
	c, cr, sr := statsPair(t)
	_, err := c.Unary(ctxTimeout(t, 5*time.Second), &echov1.Message{Text: "details"})
	wantCode(t, err, codes.FailedPrecondition)
	recvCtx(t, sr.ended, 5*time.Second, "server End")
	_, _, cerrs := cr.snapshot()
	_, _, serrs := sr.snapshot()
	wantCode(t, cerrs[0], codes.FailedPrecondition)
	wantCode(t, serrs[0], codes.FailedPrecondition)
}

// A streaming call reports each message, and headers the server sends.
func TestStatsHandlerStream(t *testing.T) {
	c, cr, sr := statsPair(t)
	s, err := c.Bidi(ctxTimeout(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := s.Send(&echov1.Message{Text: "x"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Recv(); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Recv(); err != io.EOF {
		t.Fatalf("Recv after CloseSend: %v, want io.EOF", err)
	}
	recvCtx(t, sr.ended, 5*time.Second, "server End")
	ce, _, _ := cr.snapshot()
	if n := count(ce, "OutPayload"); n != 2 {
		t.Errorf("client reported %d OutPayload, want 2: %q", n, ce)
	}
	if n := count(ce, "InPayload"); n != 2 {
		t.Errorf("client reported %d InPayload, want 2: %q", n, ce)
	}
	if ce[len(ce)-1] != "End" {
		t.Errorf("client events end with %q, want End", ce[len(ce)-1])
	}
	se, _, _ := sr.snapshot()
	if count(se, "InPayload") != 2 || count(se, "OutPayload") != 2 || se[len(se)-1] != "End" {
		t.Errorf("server events %q: want 2 InPayload, 2 OutPayload, End last", se)
	}
}

func count(s []string, v string) int {
	n := 0
	for _, e := range s {
		if e == v {
			n++
		}
	}
	return n
}

// otelgrpc's handlers on both sides make one trace: the server's span is
// the child of the client's, which is the child of the caller's span.
func TestStatsHandlerOtelgrpc(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	prop := otelgrpc.WithPropagators(propagation.TraceContext{})
	cc, _ := startServer(t, newTestEcho(),
		[]ServerOption{WithServerStatsHandler(otelgrpc.NewServerHandler(otelgrpc.WithTracerProvider(tp), prop))},
		WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithTracerProvider(tp), prop)))
	ctx, parent := tp.Tracer("test").Start(ctxTimeout(t, 5*time.Second), "caller")
	if _, err := echov1.NewEchoClient(cc).Unary(ctx, &echov1.Message{Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	parent.End()
	var client, server sdktrace.ReadOnlySpan
	deadline := time.Now().Add(5 * time.Second)
	for server == nil || client == nil {
		if time.Now().After(deadline) {
			t.Fatalf("spans %v: want a client and a server span", rec.Ended())
		}
		for _, s := range rec.Ended() {
			switch s.SpanKind() {
			case trace.SpanKindClient:
				client = s
			case trace.SpanKindServer:
				server = s
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	if client.Name() != "tether.echo.v1.Echo/Unary" {
		t.Errorf("client span %q", client.Name())
	}
	if client.Parent().SpanID() != parent.SpanContext().SpanID() {
		t.Errorf("client span's parent %v, want the caller's %v", client.Parent().SpanID(), parent.SpanContext().SpanID())
	}
	if server.Parent().SpanID() != client.SpanContext().SpanID() || !server.Parent().IsRemote() {
		t.Errorf("server span's parent %v (remote %v), want the client span %v", server.Parent().SpanID(), server.Parent().IsRemote(), client.SpanContext().SpanID())
	}
	if server.SpanContext().TraceID() != parent.SpanContext().TraceID() {
		t.Errorf("server span in trace %v, want %v", server.SpanContext().TraceID(), parent.SpanContext().TraceID())
	}
}
