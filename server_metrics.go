package tether

import (
	"bytes"
	"context"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

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
var serverBuckets = []float64{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
	0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// serverMetrics counts the calls of the plugin's own methods (those of its
// Implementations) in a registry of its own, which the Metrics RPC
// serves. tether's services (Describe, Metrics, health, the controller,
// stdio, reflection, the callback tunnels) are not counted.
type serverMetrics struct {
	reg   *prometheus.Registry
	calls *prometheus.CounterVec
	dur   *prometheus.HistogramVec
	// methods holds the counted methods by full name, filled by count
	// while NewServer registers the implementations, and read-only once
	// it returns.
	methods map[string]*methodMetrics
}

// methodMetrics is one method's histogram and its counters by code,
// each counter created on the first call that ends with its code.
type methodMetrics struct {
	name  string
	dur   prometheus.Observer
	codes [codes.Unauthenticated + 1]atomic.Pointer[prometheus.Counter]
}

// newServerMetrics returns the metrics of a plugin's server, or nil when
// EnvMetrics turns them off.
func newServerMetrics() *serverMetrics {
	if os.Getenv(EnvMetrics) == "0" {
		return nil
	}
	m := &serverMetrics{reg: prometheus.NewRegistry(), methods: map[string]*methodMetrics{},
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricServerCalls,
			Help: "Calls the plugin served, by method and gRPC status code."}, []string{"method", "code"}),
		dur: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: MetricServerDuration,
			Help:    "Time the plugin took to serve a call, by method (a stream: until its handler returned).",
			Buckets: serverBuckets}, []string{"method"}),
	}
	m.reg.MustRegister(m.calls, m.dur)
	return m
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
					m.methods[full] = &methodMetrics{name: full, dur: m.dur.WithLabelValues(full)}
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
	mm.dur.Observe(time.Since(start).Seconds())
	code := codes.OK
	if st, ok := status.FromError(err); ok {
		code = st.Code()
	} else {
		code = status.FromContextError(err).Code()
	}
	if int(code) >= len(mm.codes) {
		m.calls.WithLabelValues(mm.name, code.String()).Inc()
		return
	}
	slot := &mm.codes[code]
	c := slot.Load()
	if c == nil {
		counter := m.calls.WithLabelValues(mm.name, code.String())
		c = &counter
		slot.Store(c) // a racing call stores the same counter
	}
	(*c).Inc()
}

// encode returns the metrics in MetricsFormat; none when they are off.
func (m *serverMetrics) encode() ([]byte, error) {
	if m == nil {
		return nil, nil
	}
	families, err := m.reg.Gather()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeProtoDelim))
	for _, f := range families {
		if err := enc.Encode(f); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}

// Metrics serves the plugin's metrics (see serverMetrics).
func (d describer) Metrics(context.Context, *tetherv1.MetricsRequest) (*tetherv1.MetricsResponse, error) {
	b, err := d.s.metrics.encode()
	if err != nil {
		return nil, status.Errorf(codes.Internal, "metrics: %v", err)
	}
	return &tetherv1.MetricsResponse{Format: MetricsFormat, Families: b}, nil
}
