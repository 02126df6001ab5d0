//go:build unix

package daemon_test

import (
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/daemon"
	"github.com/tetherplug/tether/internal/plugintest"
	"github.com/tetherplug/tether/supervise"
)

// scrapeDaemon gets d's /metrics and parses it.
func scrapeDaemon(t *testing.T, d *daemon.Daemon) (map[string]*dto.MetricFamily, time.Duration) {
	t.Helper()
	client := &http.Client{Timeout: 15 * time.Second}
	start := time.Now()
	resp, err := client.Get("http://" + d.MetricsAddr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams, time.Since(start)
}

// TestMetricsSkipAPluginThatDoesNotAnswer: a running plugin that does not
// answer for its metrics (stopped with SIGSTOP) is left out of the scrape,
// which ends within the per-plugin timeout and counts it in
// tether_run_scrape_errors_total; its supervisor gauges are still there.
// Once it answers again its series are back.
func TestMetricsSkipAPluginThatDoesNotAnswer(t *testing.T) {
	d, err := startDaemonOpts(t, daemon.Options{MetricsAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	plugintest.Eventually(t, 30*time.Second, "a running", func() bool { return status(t, d, "a").State == supervise.StateRunning })
	if fams, _ := scrapeDaemon(t, d); fams[tether.MetricServerDuration] == nil || fams[daemon.MetricScrapeErrors] != nil {
		t.Fatalf("a running plugin answering: %s %v, %s %v; want the first, not the second",
			tether.MetricServerDuration, fams[tether.MetricServerDuration], daemon.MetricScrapeErrors, fams[daemon.MetricScrapeErrors])
	}
	pid := status(t, d, "a").Pid
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = syscall.Kill(pid, syscall.SIGCONT) }()
	// The stop takes effect once the kernel has stopped every thread of
	// the plugin, which on a loaded machine can be after kill returns:
	// scrape until it no longer answers.
	var fams map[string]*dto.MetricFamily
	var took time.Duration
	plugintest.Eventually(t, 20*time.Second, "a scrape without the stopped plugin's series", func() bool {
		fams, took = scrapeDaemon(t, d)
		return fams[tether.MetricServerDuration] == nil
	})
	if took > 5*time.Second {
		t.Errorf("the scrape took %v; want the plugin's 2 s timeout and little more", took)
	}
	if e := fams[daemon.MetricScrapeErrors].GetMetric(); len(e) != 1 || e[0].GetCounter().GetValue() < 1 ||
		!strings.Contains(e[0].String(), `value:"a"`) {
		t.Errorf("%s = %v; want it counted for plugin a", daemon.MetricScrapeErrors, e)
	}
	if up := fams[daemon.MetricPluginUp].GetMetric(); len(up) != 1 || up[0].GetGauge().GetValue() != 1 {
		t.Errorf("%s = %v; want 1: its process runs", daemon.MetricPluginUp, up)
	}
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if fams, _ := scrapeDaemon(t, d); fams[tether.MetricServerDuration] == nil {
		t.Errorf("after SIGCONT the plugin's series are still missing")
	}
}
