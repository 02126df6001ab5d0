package bench

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/plugintest"
	"github.com/tetherplug/tether/metrics"
)

// The observability runs (issue 18): tether with tracing on and with
// metrics on, each beside tether with both off and raw grpc-go, all sides
// paired in one run on the default transport.

// Side names of obsSides.
const (
	plainName   = "tether"
	tracedName  = "tether-traced"
	meteredName = "tether-metered"
)

// Ratios every observability run reports.
var obsRatios = []Ratio{{tracedName, plainName}, {meteredName, plainName}, {plainName, grpcName}}

// countingExporter is a span exporter that keeps nothing but the count, so
// a traced side does all of tracing's work (every call sampled, spans
// recorded, batched and exported) and the run can check it did.
type countingExporter struct{ spans atomic.Int64 }

func (e *countingExporter) ExportSpans(_ context.Context, s []sdktrace.ReadOnlySpan) error {
	e.spans.Add(int64(len(s)))
	return nil
}

func (e *countingExporter) Shutdown(context.Context) error { return nil }

// obs is one observability run's sides and what checks that the traced and
// metered sides did trace and count.
type obs struct {
	sides    []Side
	tp       *sdktrace.TracerProvider
	exported *countingExporter
	reg      *prometheus.Registry
	counted  atomic.Int64 // calls the metered side's collector counted
}

func obsSides(tb testing.TB) *obs {
	tb.Helper()
	s := bothSides(tb)
	plain := s[0].(Tether)
	o := &obs{exported: new(countingExporter), reg: prometheus.NewRegistry()}
	o.tp = sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithBatcher(o.exported))
	m := metrics.New()
	o.reg.MustRegister(m)
	traced, metered := plain, plain
	traced.Label, traced.Options = tracedName, []tether.Option{tether.WithTracing(o.tp, nil)}
	metered.Label, metered.Options = meteredName, []tether.Option{m.Option()}
	o.sides = []Side{s[1], plain, traced, meteredSide{metered, o}}
	return o
}

// meteredSide is the metered Tether side, which reads the collector's call
// count before each instance closes (a closed client's series go away).
type meteredSide struct {
	Tether
	o *obs
}

func (s meteredSide) Start(ctx context.Context) (*Instance, error) {
	return s.counted(s.Tether.Start(ctx))
}

func (s meteredSide) StartRelay(ctx context.Context, host echov1.EchoServer) (*Instance, error) {
	return s.counted(s.Tether.StartRelay(ctx, host))
}

func (s meteredSide) counted(inst *Instance, err error) (*Instance, error) {
	if err != nil {
		return nil, err
	}
	stop := inst.stop
	inst.stop = func() error {
		s.o.counted.Add(s.o.calls())
		return stop()
	}
	return inst, nil
}

// calls is the collector's count of calls over all series.
func (o *obs) calls() int64 {
	fams, err := o.reg.Gather()
	if err != nil {
		return 0
	}
	var n float64
	for _, f := range fams {
		if f.GetName() == "tether_client_calls_total" {
			for _, m := range f.GetMetric() {
				n += m.GetCounter().GetValue()
			}
		}
	}
	return int64(n)
}

// check fails b unless the traced side exported spans and the metered side
// counted calls: otherwise their figures would be the plain side's under
// another name.
func (o *obs) check(b *testing.B) {
	b.Helper()
	if err := o.tp.ForceFlush(context.Background()); err != nil {
		b.Fatal(err)
	}
	if o.exported.spans.Load() == 0 {
		b.Fatalf("%s: no span was exported", tracedName)
	}
	if o.counted.Load() == 0 {
		b.Fatalf("%s: no call was counted", meteredName)
	}
	_ = o.tp.Shutdown(context.Background())
}

// BenchmarkObsUnaryLatency: p50 and p99 of sequential 64-byte calls with
// tracing on, metrics on, both off, and raw grpc-go, in one run.
func BenchmarkObsUnaryLatency(b *testing.B) {
	o := obsSides(b)
	UnaryLatencyPairedN(b, o.sides, obsRatios...)
	o.check(b)
}

// BenchmarkObsThroughput16: calls/s of 16 callers on the same sides.
func BenchmarkObsThroughput16(b *testing.B) {
	o := obsSides(b)
	ThroughputPairedN(b, o.sides, obsRatios...)
	o.check(b)
}

// BenchmarkObsCallback: p50 and p99 of calls the plugin answers by calling
// the host back (two traced calls, four spans, per call).
func BenchmarkObsCallback(b *testing.B) {
	o := obsSides(b)
	CallbackPairedN(b, o.sides, plugintest.EchoServer{}, obsRatios...)
	o.check(b)
}
