package tether_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/pb/tetherv1"
	"github.com/tetherplug/tether/internal/plugintest"
	"github.com/tetherplug/tether/metrics"
)

// launchMetricsEcho launches the echo plugin with env added to its
// environment, closed when the test ends.
func launchMetricsEcho(tb testing.TB, env ...string) (*tether.Client, echov1.EchoClient) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := tether.Launch(ctx, echoPath(tb), tether.WithInterface("echo", 1, 2), tether.WithEnv(env...))
	if err != nil {
		tb.Fatalf("Launch: %v", err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	echo, err := tether.Dispense(c, "echo", echov1.NewEchoClient)
	if err != nil {
		tb.Fatalf("Dispense: %v", err)
	}
	return c, echo
}

// pluginMetrics asks the plugin behind c for its metrics and decodes them
// by family name.
func pluginMetrics(t *testing.T, c *tether.Client) map[string]*dto.MetricFamily {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := tetherv1.NewPluginClient(c.Conn()).Metrics(ctx, &tetherv1.MetricsRequest{})
	if err != nil {
		t.Fatalf("Metrics: %v", err)
	}
	if resp.GetFormat() != tether.MetricsFormat {
		t.Fatalf("Metrics format = %q, want %q", resp.GetFormat(), tether.MetricsFormat)
	}
	out := map[string]*dto.MetricFamily{}
	dec := expfmt.NewDecoder(bytes.NewReader(resp.GetFamilies()), expfmt.NewFormat(expfmt.TypeProtoDelim))
	for {
		var f dto.MetricFamily
		if err := dec.Decode(&f); errors.Is(err, io.EOF) {
			return out
		} else if err != nil {
			t.Fatalf("decoding the plugin's metrics: %v", err)
		}
		out[f.GetName()] = &f
	}
}

// seriesByLabels maps each series of f to its labels, as "k=v,k=v" in
// label order.
func seriesByLabels(f *dto.MetricFamily) map[string]*dto.Metric {
	out := map[string]*dto.Metric{}
	for _, m := range f.GetMetric() {
		key := ""
		for i, l := range m.GetLabel() {
			if i > 0 {
				key += ","
			}
			key += l.GetName() + "=" + l.GetValue()
		}
		out[key] = m
	}
	return out
}

func TestPluginCountsTheCallsItServesByMethodAndCode(t *testing.T) {
	c, echo := launchMetricsEcho(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for range 7 {
		if _, err := echo.Unary(ctx, &echov1.Message{Text: "hi"}); err != nil {
			t.Fatalf("Unary: %v", err)
		}
	}
	for range 3 {
		if _, err := echo.Unary(ctx, &echov1.Message{Text: plugintest.UnavailableText}); status.Code(err) != codes.Unavailable {
			t.Fatalf("Unary(%q) = %v, want Unavailable", plugintest.UnavailableText, err)
		}
	}
	stream, err := echo.ServerStream(ctx, &echov1.Message{Count: 2})
	if err != nil {
		t.Fatalf("ServerStream: %v", err)
	}
	for {
		if _, err := stream.Recv(); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("ServerStream: %v", err)
		}
	}
	if err := c.Ping(ctx); err != nil { // a health check: tether's own, not counted
		t.Fatalf("Ping: %v", err)
	}

	fams := pluginMetrics(t, c)
	calls := fams[tether.MetricServerCalls]
	if calls == nil {
		t.Fatalf("no %s in the plugin's metrics: %v", tether.MetricServerCalls, fams)
	}
	want := map[string]float64{
		"code=OK,method=" + echov1.Echo_Unary_FullMethodName:          7,
		"code=Unavailable,method=" + echov1.Echo_Unary_FullMethodName: 3,
		"code=OK,method=" + echov1.Echo_ServerStream_FullMethodName:   1,
	}
	got := seriesByLabels(calls)
	if len(got) != len(want) {
		t.Errorf("%s has %d series, want %d (tether's own services are not counted): %v", tether.MetricServerCalls, len(got), len(want), got)
	}
	for k, n := range want {
		if v := got[k].GetCounter().GetValue(); v != n {
			t.Errorf("%s{%s} = %v, want %v (all: %v)", tether.MetricServerCalls, k, v, n, got)
		}
	}
	dur := seriesByLabels(fams[tether.MetricServerDuration])
	h := dur["method="+echov1.Echo_Unary_FullMethodName].GetHistogram()
	if n := h.GetSampleCount(); n != 10 {
		t.Errorf("%s{method=Unary} counts %d calls, want 10", tether.MetricServerDuration, n)
	}
	var bounds []float64
	for _, b := range h.GetBucket() {
		bounds = append(bounds, b.GetUpperBound())
	}
	if !slices.Equal(bounds, metrics.DefaultBuckets) || h.GetBucket()[len(bounds)-1].GetCumulativeCount() != 10 {
		t.Errorf("the plugin's buckets %v (last %v); want the host's, metrics.DefaultBuckets %v, holding all 10 calls",
			bounds, h.GetBucket()[len(bounds)-1], metrics.DefaultBuckets)
	}
	// Every method of the plugin's interfaces has its histogram from the
	// start, none of tether's services.
	for k := range dur {
		if k != "method="+echov1.Echo_Unary_FullMethodName && k != "method="+echov1.Echo_ServerStream_FullMethodName &&
			k != "method="+echov1.Echo_ClientStream_FullMethodName && k != "method="+echov1.Echo_Bidi_FullMethodName {
			t.Errorf("%s has a series for %s, not a method of the plugin's interfaces", tether.MetricServerDuration, k)
		}
	}
}

func TestPluginWithMetricsOffAnswersNone(t *testing.T) {
	c, echo := launchMetricsEcho(t, tether.EnvMetrics+"=0")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := echo.Unary(ctx, &echov1.Message{Text: "hi"}); err != nil {
		t.Fatalf("Unary: %v", err)
	}
	if fams := pluginMetrics(t, c); len(fams) != 0 {
		t.Fatalf("a plugin with %s=0 answered metrics: %v", tether.EnvMetrics, fams)
	}
}

// BenchmarkServerMetrics prices the counting of served calls: echo calls
// to two launched plugins, one with metrics on (the default), one with
// TETHER_METRICS=0, on the host's transport (fast by default;
// TETHER_TRANSPORT=grpc for gRPC). The sides take turns call by call, so
// both see the same load of a shared machine; it reports each side's
// ns/call and on/off, their ratio.
func BenchmarkServerMetrics(b *testing.B) {
	_, off := launchMetricsEcho(b, tether.EnvMetrics+"=0")
	_, on := launchMetricsEcho(b, tether.EnvMetrics+"=1")
	ctx := context.Background()
	msg := &echov1.Message{Payload: make([]byte, 64)}
	call := func(e echov1.EchoClient) time.Duration {
		start := time.Now()
		if _, err := e.Unary(ctx, msg); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	for range 1000 { // warm both connections
		call(off)
		call(on)
	}
	var tOff, tOn time.Duration
	n := 0
	for b.Loop() {
		if n%2 == 0 { // alternate which goes first
			tOff += call(off)
			tOn += call(on)
		} else {
			tOn += call(on)
			tOff += call(off)
		}
		n++
	}
	b.ReportMetric(float64(tOff.Nanoseconds())/float64(n), "off-ns/call")
	b.ReportMetric(float64(tOn.Nanoseconds())/float64(n), "on-ns/call")
	b.ReportMetric(float64(tOn)/float64(tOff), "on/off")
}
