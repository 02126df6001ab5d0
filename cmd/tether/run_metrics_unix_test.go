//go:build unix

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/plugintest"
)

// startDaemonArgs is startDaemon with flags for `tether run`.
func startDaemonArgs(t *testing.T, plugins string, args ...string) *daemonProc {
	t.Helper()
	dir := t.TempDir()
	d := &daemonProc{t: t, manifest: filepath.Join(dir, "plugins.yaml"), sock: filepath.Join(dir, "state", "control.sock"),
		mark: newMark(t), tmp: t.TempDir(), stderr: &lockedBuffer{}, done: make(chan struct{})}
	d.write(plugins)
	d.launch(args...)
	return d
}

// metricsLogMsg is the message of the daemon's log record with the URL
// it serves metrics at.
const metricsLogMsg = "tether run: serving metrics"

// metricsURL is the URL the daemon logged it serves metrics at.
func (d *daemonProc) metricsURL() string {
	d.t.Helper()
	var url string
	waitFor(d.t, func() bool {
		for _, line := range strings.Split(d.stderr.String(), "\n") {
			var rec struct{ Msg, URL string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == metricsLogMsg {
				url = rec.URL
				return true
			}
		}
		return false
	})
	return url
}

// scrape gets url and parses the text exposition format.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	client := &http.Client{Timeout: 15 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing %s: %v", url, err)
	}
	return fams
}

// value is the value of the series of name whose labels are labels
// ("k=v,k=v" in label order), and whether there is one.
func value(fams map[string]*dto.MetricFamily, name, labels string) (float64, bool) {
	for _, m := range fams[name].GetMetric() {
		var kv []string
		for _, l := range m.GetLabel() {
			kv = append(kv, l.GetName()+"="+l.GetValue())
		}
		sort.Strings(kv)
		if strings.Join(kv, ",") != labels {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// echoOverRun opens run://name on the daemon's socket and dispenses Echo.
func echoOverRun(t *testing.T, d *daemonProc, name string) echov1.EchoClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := tether.Open(ctx, "run://"+name+"?socket="+d.sock, tether.WithInterface("echo", 1, 2))
	if err != nil {
		t.Fatalf("Open run://%s: %v", name, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	e, err := tether.Dispense(c, "echo", echov1.NewEchoClient)
	if err != nil {
		t.Fatalf("Dispense run://%s: %v", name, err)
	}
	return e
}

// TestRunMetrics: tether run --metrics with three plugins, one of them
// killed and restarted, then 100 calls over run:// targets, some failing
// Unavailable. A scrape finds each plugin's calls by code, exactly (the
// daemon's own health checks and Describe calls are not counted), the
// restart, the killed one's last exit code, and every plugin up.
func TestRunMetrics(t *testing.T) {
	d := startDaemonArgs(t, echoPlugin(t, "a", "")+echoPlugin(t, "b", "")+echoPlugin(t, "c", ""), "--metrics", "127.0.0.1:0")
	url := d.metricsURL()
	if !strings.HasPrefix(url, "http://127.0.0.1:") || !strings.HasSuffix(url, "/metrics") {
		t.Fatalf("metrics served at %q; want http://127.0.0.1:PORT/metrics", url)
	}
	st := d.waitStatus("all three running", func(st statusJSON) bool {
		return len(st.Plugins) == 3 && st.plugin(t, "a").State == "running" &&
			st.plugin(t, "b").State == "running" && st.plugin(t, "c").State == "running"
	})
	// Restart b first: the calls a process counted die with it.
	pid := st.plugin(t, "b").Pid
	if err := syscall.Kill(int(pid), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	d.waitStatus("b restarted", func(st statusJSON) bool {
		b := st.plugin(t, "b")
		return b.State == "running" && b.Pid != pid && b.Pid != 0
	})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	plan := []struct {
		name     string
		ok, fail int
	}{{"a", 40, 10}, {"b", 30, 0}, {"c", 15, 5}}
	for _, p := range plan {
		e := echoOverRun(t, d, p.name)
		for range p.ok {
			if _, err := e.Unary(ctx, &echov1.Message{Text: "hi"}); err != nil {
				t.Fatalf("%s: Unary: %v", p.name, err)
			}
		}
		for range p.fail {
			if _, err := e.Unary(ctx, &echov1.Message{Text: plugintest.UnavailableText}); status.Code(err) != codes.Unavailable {
				t.Fatalf("%s: Unary(%q) = %v, want Unavailable", p.name, plugintest.UnavailableText, err)
			}
		}
	}

	fams := scrape(t, url)
	const unary = "method=" + echov1.Echo_Unary_FullMethodName
	for _, p := range plan {
		want := map[string]float64{
			tether.MetricServerCalls + "{code=OK," + unary + ",plugin=" + p.name + "}":          float64(p.ok),
			tether.MetricServerDuration + "{" + unary + ",plugin=" + p.name + "}":               float64(p.ok + p.fail),
			"tether_plugin_up{plugin=" + p.name + "}":                                           1,
			"tether_plugin_state{plugin=" + p.name + ",state=running}":                          1,
			"tether_plugin_state{plugin=" + p.name + ",state=backoff}":                          0,
			tether.MetricServerCalls + "{code=Unavailable," + unary + ",plugin=" + p.name + "}": float64(p.fail),
		}
		restarts := 0.0
		if p.name == "b" {
			restarts = 1
		}
		want["tether_plugin_restarts_total{plugin="+p.name+"}"] = restarts
		for series, w := range want {
			name, labels, _ := strings.Cut(strings.TrimSuffix(series, "}"), "{")
			got, ok := value(fams, name, labels)
			if w == 0 && strings.Contains(series, "code=Unavailable") {
				if ok {
					t.Errorf("%s = %v, want no such series", series, got)
				}
				continue
			}
			if !ok || got != w {
				t.Errorf("%s = %v (present %v), want %v", series, got, ok, w)
			}
		}
	}
	if got, ok := value(fams, "tether_plugin_last_exit_code", "plugin=b"); !ok || got != 128+9 {
		t.Errorf("tether_plugin_last_exit_code{plugin=b} = %v (present %v), want 137 (killed by SIGKILL)", got, ok)
	}
	if _, ok := value(fams, "tether_plugin_last_exit_code", "plugin=a"); ok {
		t.Errorf("tether_plugin_last_exit_code{plugin=a} is set although a never exited")
	}
	for _, f := range fams[tether.MetricServerCalls].GetMetric() {
		for _, l := range f.GetLabel() {
			if l.GetName() == "method" && !strings.HasPrefix(l.GetValue(), "/tether.echo.v1.Echo/") {
				t.Errorf("%s counts %s, not a method of the plugin's interfaces", tether.MetricServerCalls, l.GetValue())
			}
		}
	}
}

// TestRunMetricsBarePort: tether run takes --metrics as tether serve does:
// a bare port is on loopback.
func TestRunMetricsBarePort(t *testing.T) {
	d := startDaemonArgs(t, echoPlugin(t, "a", ""), "--metrics", "0") // port 0: a free one
	url := d.metricsURL()
	if !strings.HasPrefix(url, "http://127.0.0.1:") || strings.HasPrefix(url, "http://127.0.0.1:0/") {
		t.Fatalf("run --metrics 0 serves at %q; want http://127.0.0.1:PORT/metrics", url)
	}
	d.waitStatus("a running", func(st statusJSON) bool { return st.plugin(t, "a").State == "running" })
	if got, ok := value(scrape(t, url), "tether_plugin_up", "plugin=a"); !ok || got != 1 {
		t.Errorf("tether_plugin_up{plugin=a} = %v (present %v), want 1", got, ok)
	}
}

// TestRunMetricsBadAddress: a --metrics value that is no address is a
// usage error (exit 2) naming the flag and the forms it takes, as serve's
// is; a taken port fails tether run (exit 1) naming the flag and the
// cause, before any plugin starts.
func TestRunMetricsBadAddress(t *testing.T) {
	dir := t.TempDir()
	manifest := filepath.Join(dir, "plugins.yaml")
	d := &daemonProc{t: t, manifest: manifest}
	d.write(echoPlugin(t, "a", ""))
	for _, bad := range []string{"nine", "127.0.0.1:http", ":70000", "70000"} {
		r := run(t, "", nil, "run", "--metrics", bad, manifest)
		want := fmt.Sprintf("--metrics %q: want a port (9090) or host:port", bad)
		if r.code != 2 || !strings.Contains(r.stderr, want) {
			t.Errorf("run --metrics %s: exit %d, stderr %q; want 2 and %q", bad, r.code, r.stderr, want)
		}
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	r := run(t, "", nil, "run", "--metrics", taken.Addr().String(), manifest)
	if r.code != 1 || !strings.Contains(r.stderr, "--metrics "+taken.Addr().String()) || !strings.Contains(r.stderr, "address already in use") {
		t.Errorf("run --metrics on a taken port: exit %d, stderr %q; want 1, naming --metrics %s and the cause", r.code, r.stderr, taken.Addr())
	}
}

// TestDocsQuoteMetricsLog: the log line that says where metrics are
// served, which TestRunMetrics reads, is the one the docs quote.
func TestDocsQuoteMetricsLog(t *testing.T) {
	for _, f := range []string{"../../docs/cli.md", "../../docs/observability.md"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), metricsLogMsg) {
			t.Errorf("%s does not quote %q", f, metricsLogMsg)
		}
	}
}

// TestRunMetricsRestartNotCounted: tether_plugin_restarts_total and
// status's RESTARTS count the restarts under the policy, as systemd's
// NRestarts does: a tether restart leaves both unchanged.
func TestRunMetricsRestartNotCounted(t *testing.T) {
	d := startDaemonArgs(t, echoPlugin(t, "a", ""), "--metrics", "127.0.0.1:0")
	url := d.metricsURL()
	d.waitStatus("a running", func(st statusJSON) bool { return st.plugin(t, "a").State == "running" })
	requireOK(t, run(t, "", nil, "restart", "a", "--socket", d.sock))
	if got, ok := value(scrape(t, url), "tether_plugin_restarts_total", "plugin=a"); !ok || got != 0 {
		t.Errorf("tether_plugin_restarts_total{plugin=a} after tether restart = %v (present %v), want 0", got, ok)
	}
	if a := d.status().plugin(t, "a"); a.Restarts != 0 || a.State != "running" {
		t.Errorf("status after tether restart: restarts %d, state %s; want 0, running", a.Restarts, a.State)
	}
}
