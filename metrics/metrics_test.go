package metrics_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/plugintest"
	"github.com/tetherplug/tether/metrics"
	"github.com/tetherplug/tether/tethertest"
)

const unaryMethod = "/tether.echo.v1.Echo/Unary"

// TestCallsByMethodAndCode: every call is counted once under its plugin,
// method and gRPC code, on the transport the suite runs (both, over the
// two runs), and the latency histogram holds one sample per call.
func TestCallsByMethodAndCode(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	s := newScraper(t, m)
	c := launchEcho(t, m, "echo-calls")
	tethertest.RequireTransport(t, c.Name(), c.Transport())
	echo, err := tether.Dispense(c, "echo", echov1.NewEchoClient)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for i := range 10 {
		if _, err := echo.Unary(ctx, &echov1.Message{Text: "hi"}); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	for range 3 {
		if _, err := echo.Unary(ctx, &echov1.Message{Text: plugintest.UnavailableText}); status.Code(err) != codes.Unavailable {
			t.Fatalf("call answered Unavailable: %v, want code Unavailable", err)
		}
	}
	const missing = "/tether.echo.v1.Echo/NoSuchMethod"
	for range 2 {
		err := c.Conn().Invoke(ctx, missing, &echov1.Message{}, &echov1.Message{})
		if status.Code(err) != codes.Unimplemented || !errors.Is(err, tether.ErrNotImplemented) {
			t.Fatalf("call to %s: %v, want Unimplemented", missing, err)
		}
	}
	st, err := echo.ServerStream(ctx, &echov1.Message{Text: "s", Count: 3})
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := st.Recv(); err != nil {
			break
		}
	}

	f := s.scrape()
	f.want(t, metrics.CallsTotal, labels{"plugin": "echo-calls", "method": unaryMethod, "code": "OK"}, 10)
	f.want(t, metrics.CallsTotal, labels{"plugin": "echo-calls", "method": unaryMethod, "code": "Unavailable"}, 3)
	f.want(t, metrics.CallsTotal, labels{"plugin": "echo-calls", "method": missing, "code": "Unimplemented"}, 2)
	f.want(t, metrics.CallsTotal, labels{"plugin": "echo-calls", "method": "/tether.echo.v1.Echo/ServerStream", "code": "OK"}, 1)
	h, ok := f.find(metrics.CallDuration, labels{"plugin": "echo-calls", "method": unaryMethod})
	if !ok {
		t.Fatalf("no %s series for %s", metrics.CallDuration, unaryMethod)
	}
	if n := h.GetHistogram().GetSampleCount(); n != 13 {
		t.Errorf("latency histogram of %s holds %d samples, want 13 (one per call)", unaryMethod, n)
	}
	if sum := h.GetHistogram().GetSampleSum(); sum <= 0 || sum > 60 {
		t.Errorf("latency histogram sum %v s: want the calls' time, above 0", sum)
	}
	f.want(t, metrics.PluginUp, labels{"plugin": "echo-calls"}, 1)
	f.want(t, metrics.Instances, labels{"plugin": "echo-calls", "state": "admitted"}, 1)
	f.want(t, metrics.Instances, labels{"plugin": "echo-calls", "state": "refused"}, 0)
	f.want(t, metrics.RestartsTotal, labels{"plugin": "echo-calls"}, 0)
	if _, ok := f.value(metrics.LastExitCode, labels{"plugin": "echo-calls"}); ok {
		t.Errorf("%s reported while no instance has exited", metrics.LastExitCode)
	}
	if _, ok := f.value(metrics.ReadyPods, labels{"plugin": "echo-calls"}); ok {
		t.Errorf("%s reported for a local plugin", metrics.ReadyPods)
	}
}

// TestRestartCounted: a plugin under WithRestart whose process exits is
// counted as restarted once, with the exit status it ended with, and is up
// again once its replacement takes calls.
func TestRestartCounted(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	s := newScraper(t, m)
	c := launchEcho(t, m, "echo-restart", tether.WithRestart())
	echo, _ := tether.Dispense(c, "echo", echov1.NewEchoClient)
	first := c.Pid()
	if _, err := echo.Unary(t.Context(), &echov1.Message{Text: "exit:3"}); err == nil {
		t.Fatal("the call that makes the plugin exit succeeded")
	}
	eventually(t, 20*time.Second, "no replacement instance took calls", func() bool {
		pid := c.Pid()
		return pid != 0 && pid != first && c.Restarts().Count == 1
	})
	var f families
	eventually(t, 10*time.Second, "the replacement is not reported up", func() bool {
		f = s.scrape()
		v, _ := f.value(metrics.PluginUp, labels{"plugin": "echo-restart"})
		return v == 1
	})
	f.want(t, metrics.RestartsTotal, labels{"plugin": "echo-restart"}, 1)
	f.want(t, metrics.LastExitCode, labels{"plugin": "echo-restart"}, 3)
	f.want(t, metrics.Instances, labels{"plugin": "echo-restart", "state": "admitted"}, 1)
	if _, err := echo.Unary(t.Context(), &echov1.Message{Text: "after"}); err != nil {
		t.Fatalf("call after the restart: %v", err)
	}
}

// TestClosedClientSeriesGo: a plugin's series go away with its last
// client, and opening and closing it again does not add any.
func TestClosedClientSeriesGo(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	s := newScraper(t, m)
	var peak int
	for i := range 3 {
		a := launchEcho(t, m, "echo-cycle")
		b := launchEcho(t, m, "echo-cycle") // two clients of one plugin add up
		for _, c := range []*tether.Client{a, b} {
			echo, _ := tether.Dispense(c, "echo", echov1.NewEchoClient)
			if _, err := echo.Unary(t.Context(), &echov1.Message{Text: "x"}); err != nil {
				t.Fatal(err)
			}
		}
		f := s.scrape()
		f.want(t, metrics.CallsTotal, labels{"plugin": "echo-cycle", "method": unaryMethod, "code": "OK"}, 2)
		f.want(t, metrics.Instances, labels{"plugin": "echo-cycle", "state": "admitted"}, 2)
		n := f.series("echo-cycle")
		if i > 0 && n != peak {
			t.Errorf("cycle %d: %d series for the plugin, %d in the first", i, n, peak)
		}
		peak = n
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		f = s.scrape()
		f.want(t, metrics.Instances, labels{"plugin": "echo-cycle", "state": "admitted"}, 1)
		f.want(t, metrics.CallsTotal, labels{"plugin": "echo-cycle", "method": unaryMethod, "code": "OK"}, 2)
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		if n := s.scrape().series("echo-cycle"); n != 0 {
			t.Fatalf("cycle %d: %d series left after the plugin's last client closed", i, n)
		}
	}
}

// TestUnknownMethodsBounded: a caller naming ever new methods the plugin
// does not serve (tether serve forwards what network hosts name) makes a
// bounded number of series.
func TestUnknownMethodsBounded(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	s := newScraper(t, m)
	c := launchEcho(t, m, "echo-unknown")
	for i := range 40 {
		method := "/tether.echo.v1.Echo/Made" + strings.Repeat("x", i)
		if err := c.Conn().Invoke(t.Context(), method, &echov1.Message{}, &echov1.Message{}); status.Code(err) != codes.Unimplemented {
			t.Fatalf("call to %s: %v, want Unimplemented", method, err)
		}
	}
	echo, _ := tether.Dispense(c, "echo", echov1.NewEchoClient)
	if _, err := echo.Unary(t.Context(), &echov1.Message{Text: "x"}); err != nil {
		t.Fatal(err)
	}
	f := s.scrape()
	fam := f[metrics.CallsTotal]
	if n := len(fam.GetMetric()); n > 20 {
		t.Errorf("%d call series after calls to 40 unknown methods, want at most 16 of them + other + Unary", n)
	}
	f.want(t, metrics.CallsTotal, labels{"plugin": "echo-unknown", "method": "other", "code": "Unimplemented"}, 24)
	f.want(t, metrics.CallsTotal, labels{"plugin": "echo-unknown", "method": unaryMethod, "code": "OK"}, 1)
}
