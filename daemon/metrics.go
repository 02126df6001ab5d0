package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/tetherv1"
	"github.com/tetherplug/tether/supervise"
)

// The metrics the daemon serves beside its plugins' own
// (tether.MetricServerCalls, tether.MetricServerDuration), each with the
// plugin label. See docs/observability.md, "tether run metrics".
const (
	MetricPluginUp       = "tether_plugin_up"
	MetricPluginRestarts = "tether_plugin_restarts_total"
	MetricPluginLastExit = "tether_plugin_last_exit_code"
	MetricPluginState    = "tether_plugin_state"
	MetricScrapeErrors   = "tether_run_scrape_errors_total"
)

const (
	// metricsTimeout bounds each plugin's answer to one scrape.
	metricsTimeout = 2 * time.Second
	// metricsParallel is how many plugins one scrape asks at once.
	metricsParallel = 8
)

// ErrMetricsListen is Start's error when it cannot listen on
// Options.MetricsAddr, or the address is not one (see MetricsAddress).
var ErrMetricsListen = errors.New("cannot serve metrics")

// states are the values of tether_plugin_state's state label.
var states = []supervise.State{supervise.StateStarting, supervise.StateRunning, supervise.StateBackoff,
	supervise.StateFailed, supervise.StateStopped, supervise.StateUnreachable}

// MetricsAddress checks the address `tether run --metrics` listens on and
// completes it: a missing host is 127.0.0.1 (loopback), so ":9090" serves
// this machine alone. The port must be a number (0 picks a free one).
func MetricsAddress(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("want HOST:PORT or :PORT, got %q", addr)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || (port != "0" && n == 0) {
		return "", fmt.Errorf("port %q of %q: want a number from 0 to 65535", port, addr)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

// metricsServer serves /metrics: the supervisor's gauges and each running
// plugin's own metrics, gathered when scraped.
type metricsServer struct {
	sup     *supervise.Supervisor
	log     *slog.Logger
	errors  *prometheus.CounterVec
	lis     net.Listener
	srv     *http.Server
	served  chan struct{}
	gathers prometheus.Gatherers
}

// listenMetrics listens on addr (checked by MetricsAddress), before any
// plugin starts, so that a taken port fails tether run at once.
func listenMetrics(addr string) (net.Listener, error) {
	full, err := MetricsAddress(addr)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMetricsListen, err)
	}
	lis, err := net.Listen("tcp", full)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMetricsListen, err)
	}
	return lis, nil
}

// serveMetrics serves /metrics on lis until close.
func serveMetrics(lis net.Listener, sup *supervise.Supervisor, log *slog.Logger) *metricsServer {
	m := &metricsServer{sup: sup, log: log, lis: lis, served: make(chan struct{}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricScrapeErrors,
			Help: "Scrapes in which a running plugin did not answer for its metrics."}, []string{"plugin"})}
	reg := prometheus.NewRegistry()
	reg.MustRegister(m.errors, supervisorCollector{sup})
	// The plugins first: a scrape's errors are counted in its own answer.
	m.gathers = prometheus.Gatherers{prometheus.GathererFunc(m.gatherPlugins), reg}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.gathers, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	m.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(m.served)
		_ = m.srv.Serve(lis)
	}()
	log.Info("tether run: serving metrics", "url", "http://"+lis.Addr().String()+"/metrics")
	return m
}

// close stops serving, letting the scrapes in flight finish (each plugin
// has metricsTimeout to answer) before the plugins are stopped.
func (m *metricsServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), metricsTimeout+time.Second)
	defer cancel()
	if m.srv.Shutdown(ctx) != nil {
		_ = m.srv.Close()
	}
	<-m.served
}

// gatherPlugins asks every running plugin for its metrics, a few at once,
// each within metricsTimeout, and labels them with the plugin's name. A
// plugin that does not answer is left out and counted in
// MetricScrapeErrors; one older than the Metrics RPC has none.
func (m *metricsServer) gatherPlugins() ([]*dto.MetricFamily, error) {
	var (
		mu     sync.Mutex
		byName = map[string]*dto.MetricFamily{}
		wg     sync.WaitGroup
		limit  = make(chan struct{}, metricsParallel)
	)
	for _, st := range m.sup.Status() {
		c, err := m.sup.Client(st.Name)
		if err != nil || c == nil {
			continue // not running: only its supervisor gauges
		}
		wg.Go(func() {
			limit <- struct{}{}
			defer func() { <-limit }()
			fams, err := pluginMetrics(c, st.Name)
			if err != nil {
				m.errors.WithLabelValues(st.Name).Inc()
				m.log.Warn("a plugin did not answer for its metrics", "plugin", st.Name, "err", err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for _, f := range fams {
				if have := byName[f.GetName()]; have != nil {
					have.Metric = append(have.Metric, f.Metric...)
				} else {
					byName[f.GetName()] = f
				}
			}
		})
	}
	wg.Wait()
	out := make([]*dto.MetricFamily, 0, len(byName))
	for _, f := range byName {
		out = append(out, f)
	}
	return out, nil
}

// pluginMetrics is one plugin's answer, decoded: the families tether's
// plugins keep, the others dropped (a plugin names none of the daemon's
// own), each series labelled plugin=name.
func pluginMetrics(c *tether.Client, name string) ([]*dto.MetricFamily, error) {
	ctx, cancel := context.WithTimeout(context.Background(), metricsTimeout)
	defer cancel()
	resp, err := tetherv1.NewPluginClient(c.Conn()).Metrics(ctx, &tetherv1.MetricsRequest{})
	if status.Code(err) == codes.Unimplemented {
		return nil, nil // a plugin older than the Metrics RPC
	}
	if err != nil {
		return nil, err
	}
	if resp.GetFormat() != tether.MetricsFormat {
		return nil, fmt.Errorf("metrics in format %q, want %q", resp.GetFormat(), tether.MetricsFormat)
	}
	var out []*dto.MetricFamily
	dec := expfmt.NewDecoder(bytes.NewReader(resp.GetFamilies()), expfmt.NewFormat(expfmt.TypeProtoDelim))
	for {
		f := &dto.MetricFamily{}
		if err := dec.Decode(f); errors.Is(err, io.EOF) {
			return out, nil
		} else if err != nil {
			return nil, fmt.Errorf("decoding its metrics: %w", err)
		}
		if f.GetName() != tether.MetricServerCalls && f.GetName() != tether.MetricServerDuration {
			continue
		}
		for _, s := range f.Metric {
			s.Label = append(withoutLabel(s.Label, "plugin"), &dto.LabelPair{Name: proto.String("plugin"), Value: proto.String(name)})
			slices.SortFunc(s.Label, func(a, b *dto.LabelPair) int { return strings.Compare(a.GetName(), b.GetName()) })
		}
		out = append(out, f)
	}
}

// withoutLabel is labels less any named name.
func withoutLabel(labels []*dto.LabelPair, name string) []*dto.LabelPair {
	out := labels[:0]
	for _, l := range labels {
		if l.GetName() != name {
			out = append(out, l)
		}
	}
	return out
}

// supervisorCollector reports what the supervisor knows of each instance,
// read from Status at each scrape.
type supervisorCollector struct{ sup *supervise.Supervisor }

var (
	descUp       = prometheus.NewDesc(MetricPluginUp, "1 while the plugin runs and takes calls, else 0.", []string{"plugin"}, nil)
	descRestarts = prometheus.NewDesc(MetricPluginRestarts, "Times the supervisor started the plugin again under its restart policy (tether restart is not counted).", []string{"plugin"}, nil)
	descLastExit = prometheus.NewDesc(MetricPluginLastExit, "Exit status of the plugin's last process (128+signal number when a signal ended it); absent before its first exit.", []string{"plugin"}, nil)
	descState    = prometheus.NewDesc(MetricPluginState, "1 for the plugin's current supervision state, 0 for the others.", []string{"plugin", "state"}, nil)
)

// Describe sends the descriptions of the supervisor's metrics.
func (supervisorCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descUp, descRestarts, descLastExit, descState} {
		ch <- d
	}
}

// Collect sends each instance's metrics.
func (c supervisorCollector) Collect(ch chan<- prometheus.Metric) {
	for _, st := range c.sup.Status() {
		up := 0.0
		if st.State == supervise.StateRunning {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, up, st.Name)
		ch <- prometheus.MustNewConstMetric(descRestarts, prometheus.CounterValue, float64(st.Restarts), st.Name)
		if st.LastExit != nil {
			if code, ok := st.LastExit.StatusCode(); ok {
				ch <- prometheus.MustNewConstMetric(descLastExit, prometheus.GaugeValue, float64(code), st.Name)
			}
		}
		for _, s := range states {
			v := 0.0
			if st.State == s {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(descState, prometheus.GaugeValue, v, st.Name, string(s))
		}
	}
}

// MetricsAddr is the address metrics are served on, nil without
// Options.MetricsAddr.
func (d *Daemon) MetricsAddr() net.Addr {
	if d.metrics == nil {
		return nil
	}
	return d.metrics.lis.Addr()
}
