// Package metrics counts what a tether host does with its plugins, for
// Prometheus: calls by plugin, method and gRPC code, their latency, and
// each plugin's instances, refusals, restarts and last exit.
//
// A Collector is a prometheus.Collector. Give its Option to every Open
// whose plugin it should count, and register it where the host serves
// /metrics:
//
//	m := metrics.New()
//	prometheus.MustRegister(m)
//	c, err := tether.Open(ctx, target, m.Option())
//
// Its series follow the clients: a plugin's series appear with its first
// client and go away when its last client is closed, so a host that opens
// and closes plugins does not grow them without bound. Labels are bounded:
// the plugin's name (WithName, or the target's), the full gRPC method, the
// gRPC code name, and small fixed sets of states and reasons.
// docs/observability.md lists every name and label.
//
// Package tether does not import this package: hosts that want no metrics
// do not link the Prometheus client.
package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tetherplug/tether"
)

// The metric names, as docs/observability.md lists them.
const (
	CallsTotal    = "tether_client_calls_total"
	CallDuration  = "tether_client_call_duration_seconds"
	PluginUp      = "tether_plugin_up"
	Instances     = "tether_plugin_instances"
	RefusalsTotal = "tether_plugin_refusals_total"
	RestartsTotal = "tether_plugin_restarts_total"
	LastExitCode  = "tether_plugin_last_exit_code"
	ReadyPods     = "tether_plugin_ready_pods"
)

// The labels' fixed values, and the scheme of Kubernetes targets.
const (
	kubeScheme     = "kube"
	stateAdmitted  = "admitted"
	stateRefused   = "refused"
	statePending   = "pending"
	reasonVersions = "versions"
	reasonDescribe = "describe"
	reasonHandshk  = "handshake"
	reasonOther    = "other"
)

// DefaultBuckets are the call latency histogram's buckets, in seconds:
// from 50 µs, a call over the fast local transport, to 10 s.
var DefaultBuckets = []float64{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
	0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Option configures a Collector.
type Option func(*config)

type config struct{ buckets []float64 }

// WithBuckets sets the call latency histogram's buckets (in seconds,
// increasing) instead of DefaultBuckets.
func WithBuckets(b ...float64) Option { return func(c *config) { c.buckets = b } }

// Collector counts the calls and follows the instances of the plugins
// opened with its Option. It is a prometheus.Collector; one Collector may
// serve any number of plugins and clients. Its methods are safe for
// concurrent use.
type Collector struct {
	calls    *prometheus.CounterVec
	duration *prometheus.HistogramVec
	refusals *prometheus.CounterVec

	up, instances, restarts, lastExit, readyPods *prometheus.Desc

	mu      sync.Mutex
	clients map[*clientMetrics]struct{}
	byName  map[string]int // open clients per plugin name
}

// New returns a Collector with no plugin yet.
func New(opts ...Option) *Collector {
	cfg := config{buckets: DefaultBuckets}
	for _, o := range opts {
		o(&cfg)
	}
	return &Collector{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: CallsTotal,
			Help: "Calls the host made to the plugin, by method and gRPC status code."},
			[]string{"plugin", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: CallDuration,
			Help: "How long the host's calls to the plugin took, until their status, in seconds.", Buckets: cfg.buckets},
			[]string{"plugin", "method"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{Name: RefusalsTotal,
			Help: "Instances the host refused, by reason: versions, describe, handshake or other."},
			[]string{"plugin", "reason"}),
		up: prometheus.NewDesc(PluginUp, "1 while at least one instance of the plugin takes calls, else 0.",
			[]string{"plugin"}, nil),
		instances: prometheus.NewDesc(Instances, "The plugin's instances by state: admitted, refused or pending.",
			[]string{"plugin", "state"}, nil),
		restarts: prometheus.NewDesc(RestartsTotal, "Instances started again after one exited (WithRestart).",
			[]string{"plugin"}, nil),
		lastExit: prometheus.NewDesc(LastExitCode, "Exit status of the plugin's latest instance to exit; 128+N for signal N, -1 unknown.",
			[]string{"plugin"}, nil),
		readyPods: prometheus.NewDesc(ReadyPods, "Pods of a Kubernetes plugin that take calls.",
			[]string{"plugin"}, nil),
		clients: map[*clientMetrics]struct{}{},
		byName:  map[string]int{},
	}
}

// Option is the tether option that makes Open count the plugin it loads
// with this Collector: its calls on either transport, its instances,
// refusals and restarts, until the client is closed.
func (m *Collector) Option() tether.Option { return tether.WithObserver(m) }

// ObserveClient implements tether.Observer; Option is the way to use it.
func (m *Collector) ObserveClient(c *tether.Client) tether.ClientObserver {
	cm := &clientMetrics{m: m, c: c, plugin: c.Name()}
	m.mu.Lock()
	m.clients[cm] = struct{}{}
	m.byName[cm.plugin]++
	m.mu.Unlock()
	return tether.ClientObserver{Unary: cm.unary, Stream: cm.stream, Refused: cm.refused, Closed: cm.close}
}

// forget drops a closed client, and its plugin's series with its last one.
func (m *Collector) forget(cm *clientMetrics) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.clients[cm]; !ok {
		return
	}
	delete(m.clients, cm)
	cm.closed = true
	if m.byName[cm.plugin]--; m.byName[cm.plugin] > 0 {
		return
	}
	delete(m.byName, cm.plugin)
	gone := prometheus.Labels{"plugin": cm.plugin}
	m.calls.DeletePartialMatch(gone)
	m.duration.DeletePartialMatch(gone)
	m.refusals.DeletePartialMatch(gone)
}

// Describe implements prometheus.Collector.
func (m *Collector) Describe(ch chan<- *prometheus.Desc) {
	m.calls.Describe(ch)
	m.duration.Describe(ch)
	m.refusals.Describe(ch)
	for _, d := range []*prometheus.Desc{m.up, m.instances, m.restarts, m.lastExit, m.readyPods} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: the call counts, and each
// plugin's instances as its clients know them now.
func (m *Collector) Collect(ch chan<- prometheus.Metric) {
	m.calls.Collect(ch)
	m.duration.Collect(ch)
	m.refusals.Collect(ch)
	for name, p := range m.snapshot() {
		p.collect(m, name, ch)
	}
}
