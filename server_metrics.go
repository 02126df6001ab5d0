package tether

import (
	"bytes"
	"context"
	"iter"
	"maps"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	dto "github.com/prometheus/client_model/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protodelim"
	"google.golang.org/protobuf/proto"

	"github.com/tetherplug/tether/internal/pb/tetherv1"
)

// EnvMetrics, set to "0" in a plugin's environment, turns off the counting
// of the calls it serves (see Server metrics in docs/observability.md). Any
// other value, or none, leaves it on.
const EnvMetrics = "TETHER_METRICS"

// The names of the metrics every plugin keeps of the calls it serves. The
// plugin label is added by whoever gathers them (tether run --metrics).
const (
	MetricServerCalls    = "tether_server_calls_total"
	MetricServerDuration = "tether_server_call_duration_seconds"
)

// MetricsFormat is the exposition format of a Metrics answer: Prometheus'
// delimited protobuf, each io.prometheus.client.MetricFamily preceded by
// its length.
const MetricsFormat = "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"

// serverBuckets are the latency histogram's buckets, in seconds: from
// 50 µs, a call over the fast local transport, to 10 s; the same as the
// host side's (package metrics, DefaultBuckets).
var serverBuckets = [...]float64{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
	0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// serverMetrics counts the calls of the plugin's own methods (those of its
// Implementations), which the Metrics RPC serves. tether's services
// (Describe, Metrics, health, the controller, stdio, reflection, the
// callback tunnels) are not counted. It keeps plain atomic counters and
// builds the exposition's families only when asked, so a plugin does not
// link the Prometheus client.
type serverMetrics struct {
	// methods holds the counted methods by full name, filled by count
	// while NewServer registers the implementations, and read-only once
	// it returns.
	methods map[string]*methodMetrics
}

// methodMetrics is one method's counts: calls by code, and the latency
// histogram's buckets (not cumulative: each call in the first bucket
// whose bound it does not exceed), count and sum.
type methodMetrics struct {
	name     string
	codes    [codes.Unauthenticated + 1]atomic.Uint64
	mu       sync.Mutex
	other    map[codes.Code]uint64 // codes beyond gRPC's own, rare
	buckets  [len(serverBuckets)]atomic.Uint64
	count    atomic.Uint64
	sumNanos atomic.Int64
}

// newServerMetrics returns the metrics of a plugin's server, or nil when
// EnvMetrics turns them off.
func newServerMetrics() *serverMetrics {
	if os.Getenv(EnvMetrics) == "0" {
		return nil
	}
	return &serverMetrics{methods: map[string]*methodMetrics{}}
}

// intercept returns cfg with the metrics' interceptors first, outermost,
// on both transports.
func (m *serverMetrics) intercept(cfg ServeConfig) ServeConfig {
	if m == nil {
		return cfg
	}
	cfg.UnaryInterceptors = slices.Insert(slices.Clone(cfg.UnaryInterceptors), 0, m.unary)
	cfg.StreamInterceptors = slices.Insert(slices.Clone(cfg.StreamInterceptors), 0, m.stream)
	return cfg
}

// count makes the methods of the implementations' services counted; the
// method series exist, at zero, from then on.
func (m *serverMetrics) count(ifaces []*tetherv1.Interface) {
	if m == nil {
		return
	}
	for _, iface := range ifaces {
		for _, svc := range iface.GetServices() {
			for _, name := range svc.GetMethods() {
				full := "/" + svc.GetName() + "/" + name
				if m.methods[full] == nil {
					m.methods[full] = &methodMetrics{name: full}
				}
			}
		}
	}
}

func (m *serverMetrics) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	mm := m.methods[info.FullMethod]
	if mm == nil {
		return handler(ctx, req)
	}
	start := time.Now()
	resp, err := handler(ctx, req)
	m.observe(mm, start, err)
	return resp, err
}

func (m *serverMetrics) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	mm := m.methods[info.FullMethod]
	if mm == nil {
		return handler(srv, ss)
	}
	start := time.Now()
	err := handler(srv, ss)
	m.observe(mm, start, err)
	return err
}

// observe records one call that began at start and ended with err, under
// the code the server sends for it (a context error is Canceled or
// DeadlineExceeded, any other error without a status Unknown).
func (m *serverMetrics) observe(mm *methodMetrics, start time.Time, err error) {
	d := time.Since(start)
	if i, _ := slices.BinarySearch(serverBuckets[:], d.Seconds()); i < len(mm.buckets) {
		mm.buckets[i].Add(1)
	}
	mm.count.Add(1)
	mm.sumNanos.Add(int64(d))
	code := codes.OK
	if st, ok := status.FromError(err); ok {
		code = st.Code()
	} else {
		code = status.FromContextError(err).Code()
	}
	if int(code) < len(mm.codes) {
		mm.codes[code].Add(1)
		return
	}
	mm.mu.Lock()
	if mm.other == nil {
		mm.other = map[codes.Code]uint64{}
	}
	mm.other[code]++
	mm.mu.Unlock()
}

// encode returns the metrics in MetricsFormat; none when they are off.
func (m *serverMetrics) encode() ([]byte, error) {
	if m == nil {
		return nil, nil
	}
	calls := &dto.MetricFamily{Name: proto.String(MetricServerCalls), Type: dto.MetricType_COUNTER.Enum(),
		Help: proto.String("Calls the plugin served, by method and gRPC status code.")}
	dur := &dto.MetricFamily{Name: proto.String(MetricServerDuration), Type: dto.MetricType_HISTOGRAM.Enum(),
		Help: proto.String("Time the plugin took to serve a call, by method (a stream: until its handler returned).")}
	for _, name := range slices.Sorted(maps.Keys(m.methods)) {
		mm := m.methods[name]
		for code, n := range mm.byCode() {
			calls.Metric = append(calls.Metric, &dto.Metric{
				Label:   []*dto.LabelPair{label("code", code.String()), label("method", name)}, // by name, as the exposition wants
				Counter: &dto.Counter{Value: proto.Float64(float64(n))}})
		}
		dur.Metric = append(dur.Metric, &dto.Metric{Label: []*dto.LabelPair{label("method", name)}, Histogram: mm.histogram()})
	}
	var buf bytes.Buffer
	for _, f := range []*dto.MetricFamily{calls, dur} {
		if len(f.Metric) == 0 {
			continue
		}
		if _, err := protodelim.MarshalTo(&buf, f); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}

// byCode yields the method's call counts by code, in code order, leaving
// out the codes none of its calls ended with.
func (mm *methodMetrics) byCode() iter.Seq2[codes.Code, uint64] {
	return func(yield func(codes.Code, uint64) bool) {
		for i := range mm.codes {
			if n := mm.codes[i].Load(); n > 0 && !yield(codes.Code(i), n) {
				return
			}
		}
		mm.mu.Lock()
		other := maps.Clone(mm.other)
		mm.mu.Unlock()
		for _, code := range slices.Sorted(maps.Keys(other)) {
			if !yield(code, other[code]) {
				return
			}
		}
	}
}

// histogram is the method's latency histogram, its buckets cumulative as
// the exposition wants them.
func (mm *methodMetrics) histogram() *dto.Histogram {
	h := &dto.Histogram{SampleCount: proto.Uint64(mm.count.Load()),
		SampleSum: proto.Float64(time.Duration(mm.sumNanos.Load()).Seconds())}
	var cum uint64
	for i, bound := range serverBuckets {
		cum += mm.buckets[i].Load()
		h.Bucket = append(h.Bucket, &dto.Bucket{UpperBound: proto.Float64(bound), CumulativeCount: proto.Uint64(cum)})
	}
	return h
}

func label(name, value string) *dto.LabelPair {
	return &dto.LabelPair{Name: proto.String(name), Value: proto.String(value)}
}

// Metrics serves the plugin's metrics (see serverMetrics).
func (d describer) Metrics(context.Context, *tetherv1.MetricsRequest) (*tetherv1.MetricsResponse, error) {
	b, err := d.s.metrics.encode()
	if err != nil {
		return nil, status.Errorf(codes.Internal, "metrics: %v", err)
	}
	return &tetherv1.MetricsResponse{Format: MetricsFormat, Families: b}, nil
}
