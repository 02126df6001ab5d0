package main

import (
	"context"
	"net/http"
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
	"github.com/tetherplug/tether/network"
	"github.com/tetherplug/tether/tethertest"
)

// lineField waits up to 10 s for serve to log msg and returns its field.
func lineField(t *testing.T, s *served, msg, field string) string {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case line := <-s.lines:
			if v, ok := line[field].(string); ok && line["msg"] == msg {
				return v
			}
		case <-timeout:
			t.Fatalf("serve did not log %q with %s within 10 s", msg, field)
		}
	}
}

// scrapeMetrics fetches a /metrics URL and returns the value of each
// counter and gauge series by name and labels ("name{k=v,...}", labels
// sorted as the text format gives them).
func scrapeMetrics(t *testing.T, url string) map[string]float64 {
	t.Helper()
	client := http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("scraping %s: %v", url, err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing %s: %v", url, err)
	}
	out := map[string]float64{}
	for name, fam := range fams {
		for _, m := range fam.GetMetric() {
			key := name + "{"
			for i, l := range m.GetLabel() {
				if i > 0 {
					key += ","
				}
				key += l.GetName() + "=" + l.GetValue()
			}
			key += "}"
			switch fam.GetType() {
			case dto.MetricType_COUNTER:
				out[key] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[key] = m.GetGauge().GetValue()
			}
		}
	}
	return out
}

// TestServeFollowsRestartsWithMetrics: when the plugin behind tether
// serve exits, serve starts it again and keeps listening; the call cut off
// fails Unavailable, later calls work on the same connection, and
// --metrics counts the calls by code and the restart with its exit status.
func TestServeFollowsRestartsWithMetrics(t *testing.T) {
	s := startServe(t, tethertest.Build(t, plugintest.EchoPlugin), "--insecure", "--metrics", "127.0.0.1:0")
	url := lineField(t, s, "serving metrics", "url")
	c := openThrough(t, s, network.WithInsecure(), tether.WithInterface("echo", 1))
	echo := echov1.NewEchoClient(c.Conn())
	call := func(text string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := echo.Unary(ctx, &echov1.Message{Text: text})
		return err
	}
	for i := range 5 {
		if err := call("before"); err != nil {
			t.Fatalf("call %d through serve: %v", i, err)
		}
	}
	if err := call("exit:3"); status.Code(err) != codes.Unavailable {
		t.Fatalf("call whose plugin exits: %v, want code Unavailable", err)
	}
	lineField(t, s, "plugin exited; restarting", "error") // docs/cli.md quotes it
	plugintest.Eventually(t, 20*time.Second, "no call worked after the plugin's restart", func() bool {
		return call("after") == nil
	})
	select {
	case err := <-s.exited:
		s.exited <- err
		t.Fatalf("serve exited when its plugin did: %v\n%s", err, s.stderr)
	default:
	}
	got := scrapeMetrics(t, url)
	const unary = "method=/tether.echo.v1.Echo/Unary,plugin=echoplugin}"
	if n := got["tether_client_calls_total{code=OK,"+unary]; n < 6 {
		t.Errorf("calls counted OK: %v, want at least 6 (5 before, 1 after the restart)", n)
	}
	if n := got["tether_client_calls_total{code=Unavailable,"+unary]; n < 1 {
		t.Errorf("calls counted Unavailable: %v, want at least 1", n)
	}
	for key, want := range map[string]float64{
		"tether_plugin_restarts_total{plugin=echoplugin}":           1,
		"tether_plugin_last_exit_code{plugin=echoplugin}":           3,
		"tether_plugin_up{plugin=echoplugin}":                       1,
		"tether_plugin_instances{plugin=echoplugin,state=admitted}": 1,
	} {
		if v, ok := got[key]; !ok || v != want {
			t.Errorf("%s = %v (present: %v), want %v", key, v, ok, want)
		}
	}
}

// TestMetricsAddr: --metrics takes a port (on loopback) or host:port.
func TestMetricsAddr(t *testing.T) {
	for flag, want := range map[string]string{
		"9090":         "127.0.0.1:9090",
		":9090":        "127.0.0.1:9090",
		"0.0.0.0:9090": "0.0.0.0:9090",
		"[::1]:0":      "[::1]:0",
		"localhost:1":  "localhost:1",
	} {
		if got, err := metricsAddr(flag); err != nil || got != want {
			t.Errorf("metricsAddr(%q) = %q, %v; want %q", flag, got, err, want)
		}
	}
	for _, flag := range []string{"", "nonsense", "99999", "host:port", "1.2.3.4"} {
		if got, err := metricsAddr(flag); err == nil {
			t.Errorf("metricsAddr(%q) = %q, want an error", flag, got)
		}
	}
}
