package metrics_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/plugintest"
	"github.com/tetherplug/tether/metrics"
	"github.com/tetherplug/tether/tethertest"
)

// TestMain removes the test plugins after the run and fails it if any
// goroutine outlives the tests.
func TestMain(m *testing.M) { tethertest.Main(m) }

var markSeq atomic.Int64

// echoPath builds the echo test plugin once per test binary.
func echoPath(t testing.TB) string { return tethertest.Build(t, plugintest.EchoPlugin) }

// launchEcho launches the echo plugin counted by m under name, and closes
// it when the test ends.
func launchEcho(t *testing.T, m *metrics.Collector, name string, opts ...tether.Option) *tether.Client {
	t.Helper()
	mark := fmt.Sprintf("%d-%d", os.Getpid(), markSeq.Add(1))
	all := append([]tether.Option{m.Option(), tether.WithName(name), tether.WithStartTimeout(20 * time.Second),
		tether.WithEnv("TETHER_TEST_MARK=" + mark)}, opts...)
	c, err := tether.Launch(t.Context(), echoPath(t), all...)
	if err != nil {
		t.Fatalf("Launch(echoplugin): %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// scraper serves a registry with m through promhttp on a loopback port.
type scraper struct {
	t   *testing.T
	url string
}

func newScraper(t *testing.T, m *metrics.Collector) *scraper {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(m); err != nil {
		t.Fatalf("registering the collector: %v", err)
	}
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}))
	t.Cleanup(srv.Close)
	return &scraper{t: t, url: srv.URL + "/metrics"}
}

// scrape fetches /metrics over HTTP and parses the text format.
func (s *scraper) scrape() families {
	s.t.Helper()
	return scrapeURL(s.t, s.url)
}

// scrapeURL fetches url and parses the Prometheus text format.
func scrapeURL(t *testing.T, url string) families {
	t.Helper()
	client := http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("scraping %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scraping %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing the scrape of %s: %v", url, err)
	}
	return fams
}

// families are a scrape's metric families by name.
type families map[string]*dto.MetricFamily

// find returns the metric of family name whose labels include want.
func (f families) find(name string, want map[string]string) (*dto.Metric, bool) {
	fam := f[name]
	if fam == nil {
		return nil, false
	}
next:
	for _, m := range fam.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		return m, true
	}
	return nil, false
}

// value is the value of a counter or gauge with the labels given, and
// false when there is none.
func (f families) value(name string, labels map[string]string) (float64, bool) {
	m, ok := f.find(name, labels)
	if !ok {
		return 0, false
	}
	switch {
	case m.Counter != nil:
		return m.GetCounter().GetValue(), true
	case m.Gauge != nil:
		return m.GetGauge().GetValue(), true
	}
	return 0, false
}

// want fails the test unless the series with labels has value v.
func (f families) want(t *testing.T, name string, labels map[string]string, v float64) {
	t.Helper()
	got, ok := f.value(name, labels)
	if !ok {
		t.Errorf("no series %s%v in the scrape", name, labels)
		return
	}
	if got != v {
		t.Errorf("%s%v = %v, want %v", name, labels, got, v)
	}
}

// series counts the series, of every family, that carry plugin=name.
func (f families) series(plugin string) int {
	n := 0
	for _, fam := range f {
		for _, m := range fam.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "plugin" && l.GetValue() == plugin {
					n++
				}
			}
		}
	}
	return n
}

// labels is a shorthand for label sets.
type labels = map[string]string

var eventually = plugintest.Eventually
