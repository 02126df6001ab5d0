// Package otlptest is for tests of tether's tracing: a receiver of OTLP
// trace exports on loopback (what a plugin's exporter sends to), a host
// TracerProvider that keeps its spans in memory, and the check that one
// host call answered with a callback made one trace of four parent-linked
// spans, which it can render as an indented tree.
package otlptest

import (
	"context"
	"encoding/hex"
	"fmt"
	"iter"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	collectorpb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
)

// Span is what the checks look at of a span, from either source.
type Span struct {
	Name     string
	Kind     string // "client", "server", ...
	Process  string // the resource's service.name
	TraceID  string
	SpanID   string
	ParentID string // "" for a root span
	// Start and End are when the span began and ended, by the clock of
	// the process that made it (the same machine's, in these tests).
	Start, End time.Time
}

// Receiver is an OTLP/gRPC trace collector on 127.0.0.1 that keeps every
// span it is sent.
type Receiver struct {
	collectorpb.UnimplementedTraceServiceServer
	// Endpoint is the URL for OTEL_EXPORTER_OTLP_ENDPOINT (plaintext).
	Endpoint string

	mu      sync.Mutex
	spans   []Span
	changed chan struct{}
}

// NewReceiver starts a receiver, stopped when the test ends.
func NewReceiver(tb testing.TB) *Receiver {
	tb.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	r := &Receiver{Endpoint: "http://" + lis.Addr().String(), changed: make(chan struct{})}
	srv := grpc.NewServer()
	collectorpb.RegisterTraceServiceServer(srv, r)
	go func() { _ = srv.Serve(lis) }()
	tb.Cleanup(srv.Stop)
	return r
}

// Env is the environment that makes a tether plugin export its spans to r
// promptly (a batch every 50 ms).
func (r *Receiver) Env() []string {
	return []string{"OTEL_EXPORTER_OTLP_ENDPOINT=" + r.Endpoint, "OTEL_BSP_SCHEDULE_DELAY=50"}
}

// Export keeps the spans of one export.
func (r *Receiver) Export(_ context.Context, req *collectorpb.ExportTraceServiceRequest) (*collectorpb.ExportTraceServiceResponse, error) {
	var got []Span
	for _, rs := range req.GetResourceSpans() {
		process := ""
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				process = kv.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				got = append(got, Span{Name: s.GetName(), Kind: protoKind(s.GetKind()), Process: process,
					TraceID: hex.EncodeToString(s.GetTraceId()), SpanID: hex.EncodeToString(s.GetSpanId()),
					ParentID: hex.EncodeToString(s.GetParentSpanId()),
					Start:    time.Unix(0, int64(s.GetStartTimeUnixNano())), End: time.Unix(0, int64(s.GetEndTimeUnixNano()))})
			}
		}
	}
	r.mu.Lock()
	r.spans = append(r.spans, got...)
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
	return &collectorpb.ExportTraceServiceResponse{}, nil
}

func protoKind(k tracepb.Span_SpanKind) string {
	return strings.ToLower(strings.TrimPrefix(k.String(), "SPAN_KIND_"))
}

// Spans returns the spans received so far.
func (r *Receiver) Spans() []Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.spans)
}

// WaitSpans waits up to d for n spans of trace traceID, and fails the test
// without them.
func (r *Receiver) WaitSpans(tb testing.TB, traceID string, n int, d time.Duration) []Span {
	tb.Helper()
	deadline := time.After(d)
	for {
		r.mu.Lock()
		var got []Span
		for _, s := range r.spans {
			if s.TraceID == traceID {
				got = append(got, s)
			}
		}
		changed := r.changed
		r.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-changed:
		case <-deadline:
			tb.Fatalf("after %v the collector has %d spans of trace %s, want %d: %+v", d, len(got), traceID, n, r.Spans())
		}
	}
}

// Host is a host's TracerProvider keeping its spans in memory.
type Host struct {
	Provider *sdktrace.TracerProvider
	exp      *tracetest.InMemoryExporter
	process  string
}

// NewHost returns a host provider whose spans are of process name.
func NewHost(tb testing.TB, name string) *Host {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	tb.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return &Host{Provider: tp, exp: exp, process: name}
}

// Spans returns the host's ended spans.
func (h *Host) Spans() []Span {
	var out []Span
	for _, s := range h.exp.GetSpans() {
		parent := ""
		if s.Parent.IsValid() {
			parent = s.Parent.SpanID().String()
		}
		out = append(out, Span{Name: s.Name, Kind: s.SpanKind.String(), Process: h.process,
			TraceID: s.SpanContext.TraceID().String(), SpanID: s.SpanContext.SpanID().String(), ParentID: parent,
			Start: s.StartTime, End: s.EndTime})
	}
	return out
}

// WaitSpans waits up to d for n ended host spans (a server span ends just
// after its reply is written) and fails the test without them.
func (h *Host) WaitSpans(tb testing.TB, n int, d time.Duration) []Span {
	tb.Helper()
	deadline := time.Now().Add(d)
	for {
		if s := h.Spans(); len(s) >= n {
			return s
		}
		if time.Now().After(deadline) {
			tb.Fatalf("after %v the host has spans %+v, want %d", d, h.Spans(), n)
		}
		time.Sleep(2 * time.Millisecond) // the exporter has no way to wait on
	}
}

// CheckCallback checks that host and plugin spans make one trace of a host
// call answered with a callback: host client → plugin server → plugin
// client → host server, each the parent of the next, all of method's
// name (Echo/Unary); and returns the four in that order.
func CheckCallback(tb testing.TB, host, plugin []Span, method, hostProcess, pluginProcess string) []Span {
	tb.Helper()
	chain := []Span{Find(tb, host, "client", hostProcess, method), Find(tb, plugin, "server", pluginProcess, method),
		Find(tb, plugin, "client", pluginProcess, method), Find(tb, host, "server", hostProcess, method)}
	CheckChain(tb, chain)
	return chain
}

// Find returns the one span of kind, process and name in spans, and fails
// the test unless there is exactly one.
func Find(tb testing.TB, spans []Span, kind, process, name string) Span {
	tb.Helper()
	var found []Span
	for _, s := range spans {
		if s.Kind == kind && s.Name == name && s.Process == process {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		tb.Fatalf("%d %s spans named %s of process %s, want 1: %+v", len(found), kind, name, process, spans)
	}
	return found[0]
}

// CheckChain checks that chain is one trace whose first span is a root and
// each later span the child of the one before.
func CheckChain(tb testing.TB, chain []Span) {
	tb.Helper()
	if chain[0].ParentID != "" {
		tb.Errorf("the first span has parent %s, want none (the call was made outside any span)", chain[0].ParentID)
	}
	for i, s := range chain {
		if s.TraceID != chain[0].TraceID {
			tb.Errorf("span %d (%s %s of %s) is in trace %s, want %s", i, s.Kind, s.Name, s.Process, s.TraceID, chain[0].TraceID)
		}
		if i > 0 && s.ParentID != chain[i-1].SpanID {
			tb.Errorf("span %d (%s of %s) has parent %s, want %s (the %s span of %s)", i, s.Kind, s.Process,
				s.ParentID, chain[i-1].SpanID, chain[i-1].Kind, chain[i-1].Process)
		}
	}
}

// Tree renders spans as an indented tree, children under their parent, one
// line each: name, kind and process.
func Tree(spans []Span) string {
	var b strings.Builder
	for s, depth := range inTreeOrder(spans) {
		fmt.Fprintf(&b, "%s%s  [%s, %s]\n", strings.Repeat("    ", depth), s.Name, s.Kind, s.Process)
	}
	return b.String()
}

// inTreeOrder yields spans depth first, parents before their children,
// with their depth; a span whose parent is not among them is a root.
func inTreeOrder(spans []Span) iter.Seq2[Span, int] {
	ids := map[string]bool{}
	for _, s := range spans {
		ids[s.SpanID] = true
	}
	return func(yield func(Span, int) bool) {
		var walk func(parent string, depth int) bool
		walk = func(parent string, depth int) bool {
			for _, s := range spans {
				if s.ParentID == parent || (depth == 0 && !ids[s.ParentID] && s.ParentID != "") {
					if !yield(s, depth) || !walk(s.SpanID, depth+1) {
						return false
					}
				}
			}
			return true
		}
		walk("", 0)
	}
}

// TraceID is the trace of a span context, as Span.TraceID spells it.
func TraceID(sc trace.SpanContext) string { return sc.TraceID().String() }
