package compat_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"go.uber.org/goleak"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/compat"
	"github.com/tetherplug/tether/compat/internal/greeter"
	greeterv1 "github.com/tetherplug/tether/examples/greeter/greeterpb/v1"
	"github.com/tetherplug/tether/internal/plugintest"
	"github.com/tetherplug/tether/tethertest"
)

// loader loads one greeter plugin process with one plugin system and
// returns its Greeter client, its pid and a function that stops it.
type loader struct {
	name string
	load func(ctx context.Context) (g greeterv1.GreeterClient, pid int, stop func() error, err error)
}

func TestMain(m *testing.M) {
	code := m.Run()
	tethertest.Cleanup()
	os.Exit(code)
}

// bothLoaders builds the two plugins once per test binary and returns the
// tether loader and the go-plugin loader.
func bothLoaders(tb testing.TB) []loader {
	tb.Helper()
	tetherBin := tethertest.Build(tb, "github.com/tetherplug/tether/compat/internal/tethergreeter")
	goPluginBin := tethertest.Build(tb, "github.com/tetherplug/tether/compat/internal/goplugingreeter")
	return []loader{
		{"tether", func(ctx context.Context) (greeterv1.GreeterClient, int, func() error, error) {
			return loadTether(ctx, tetherBin, "")
		}},
		{"goplugin", func(context.Context) (greeterv1.GreeterClient, int, func() error, error) {
			return loadGoPlugin(goPluginBin)
		}},
	}
}

// loadTether launches the tether greeter; a transport other than "" is
// passed to tether.WithTransport, and TransportFast must be what the Client
// then reports.
func loadTether(ctx context.Context, path string, transport tether.Transport) (greeterv1.GreeterClient, int, func() error, error) {
	opts := []tether.Option{
		tether.WithHandshake(tether.HandshakeConfig{
			ProtocolVersion:  greeter.ProtocolVersion,
			MagicCookieKey:   greeter.CookieKey,
			MagicCookieValue: greeter.CookieValue,
		}),
		tether.WithInterface("greeter", 1),
		tether.WithLogger(slog.New(slog.DiscardHandler))}
	if transport != "" {
		opts = append(opts, tether.WithTransport(transport))
	}
	c, err := tether.Launch(ctx, path, opts...)
	if err != nil {
		return nil, 0, nil, err
	}
	if got := c.Transport(); transport == tether.TransportFast && got != transport {
		c.Close()
		return nil, 0, nil, fmt.Errorf("tether-fast: Client.Transport() = %q, want %q", got, transport)
	}
	g, err := tether.Dispense(c, "greeter", greeterv1.NewGreeterClient)
	if err != nil {
		c.Close()
		return nil, 0, nil, err
	}
	return g, c.Pid(), c.Close, nil
}

func loadGoPlugin(path string) (greeterv1.GreeterClient, int, func() error, error) {
	c := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  compat.Handshake,
		Plugins:          plugin.PluginSet{"greeter": &compat.GreeterPlugin{}},
		Cmd:              exec.Command(path),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           hclog.NewNullLogger(),
	})
	stop := func() error { c.Kill(); return nil }
	rpc, err := c.Client()
	if err != nil {
		stop()
		return nil, 0, nil, err
	}
	raw, err := rpc.Dispense("greeter")
	if err != nil {
		stop()
		return nil, 0, nil, err
	}
	g, ok := raw.(greeterv1.GreeterClient)
	if !ok {
		stop()
		return nil, 0, nil, fmt.Errorf("dispensed a %T", raw)
	}
	return g, c.ReattachConfig().Pid, stop, nil
}

// TestHandshakeIsTethersDefault keeps the plugins loadable by the tether
// CLI without flags, as the tether greeter example is.
func TestHandshakeIsTethersDefault(t *testing.T) {
	if greeter.CookieKey != tether.DefaultMagicCookieKey || greeter.CookieValue != tether.DefaultMagicCookieValue {
		t.Errorf("cookie %s=%s, want tether's default %s=%s", greeter.CookieKey, greeter.CookieValue,
			tether.DefaultMagicCookieKey, tether.DefaultMagicCookieValue)
	}
}

// TestGreetBoth loads the greeter with each plugin system (and tether with
// each transport), calls it, stops it and checks its process and goroutines
// are gone.
func TestGreetBoth(t *testing.T) {
	for _, l := range append(bothLoaders(t), fastLoaders(t)[1:]...) {
		t.Run(l.name, func(t *testing.T) {
			if l.name == "tether-fast" && os.Getenv(tether.EnvTransport) == string(tether.TransportGRPC) {
				t.Skipf("%s=grpc: the fast transport is off", tether.EnvTransport)
			}
			defer goleak.VerifyNone(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			g, pid, stop, err := l.load(ctx)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := g.Greet(ctx, &greeterv1.GreetRequest{Name: "Ada"})
			if err != nil {
				t.Fatal(err)
			}
			if resp.GetMessage() != "Hello, Ada!" {
				t.Errorf("Greet returned %q", resp.GetMessage())
			}
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			if !plugintest.Reaped(pid) {
				t.Errorf("plugin process %d still exists after stop", pid)
			}
		})
	}
}

// BenchmarkStartToFirstCall times launching a greeter plugin, dispensing
// its client and completing the first Greet, with tether and with
// go-plugin (plugin.NewClient, Client, Dispense), reported as p50-ms.
func BenchmarkStartToFirstCall(b *testing.B) {
	for _, l := range bothLoaders(b) {
		b.Run(l.name, func(b *testing.B) {
			ds := make([]time.Duration, 0, b.N)
			for range b.N {
				d, stop, err := firstCall(l)
				ds = append(ds, d)
				b.StopTimer()
				if serr := stop(); err == nil {
					err = serr
				}
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(millis(median(ds)), "p50-ms")
		})
	}
}

// BenchmarkStartToFirstCallPaired alternates tether and go-plugin
// start-ups, so that a change in the machine's load hits both alike, and
// reports tether-p50-ms, goplugin-p50-ms and their ratio.
func BenchmarkStartToFirstCallPaired(b *testing.B) {
	ls := bothLoaders(b)
	ds := make([][]time.Duration, len(ls))
	b.ResetTimer() // the first call builds the plugins
	for range b.N {
		for i, l := range ls {
			d, stop, err := firstCall(l)
			ds[i] = append(ds[i], d)
			if serr := stop(); err == nil {
				err = serr
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	p := make([]float64, len(ls))
	for i, l := range ls {
		p[i] = millis(median(ds[i]))
		b.ReportMetric(p[i], l.name+"-p50-ms")
	}
	b.ReportMetric(p[0]/p[1], "ratio")
}

// firstCall loads a plugin with l and makes one Greet call. It returns the
// time from the start of the load to the end of the call and a function that
// stops the plugin (a no-op when it did not load).
func firstCall(l loader) (time.Duration, func() error, error) {
	ctx := context.Background()
	start := time.Now()
	g, _, stop, err := l.load(ctx)
	if err != nil {
		return 0, func() error { return nil }, err
	}
	_, err = g.Greet(ctx, &greeterv1.GreetRequest{Name: "Ada"})
	return time.Since(start), stop, err
}

// BenchmarkUnaryLatency makes sequential Greet calls to one loaded plugin
// and reports the median and 99th percentile as p50-us and p99-us.
func BenchmarkUnaryLatency(b *testing.B) {
	for _, l := range bothLoaders(b) {
		ctx := context.Background()
		g, _, stop, err := l.load(ctx)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(l.name, func(b *testing.B) {
			req := &greeterv1.GreetRequest{Name: "Ada"}
			ds := make([]time.Duration, 0, b.N)
			for range b.N {
				start := time.Now()
				if _, err := g.Greet(ctx, req); err != nil {
					b.Fatal(err)
				}
				ds = append(ds, time.Since(start))
			}
			b.ReportMetric(float64(median(ds))/float64(time.Microsecond), "p50-us")
			b.ReportMetric(float64(percentile(ds, 0.99))/float64(time.Microsecond), "p99-us")
		})
		if err := stop(); err != nil {
			b.Fatal(err)
		}
	}
}

func median(ds []time.Duration) time.Duration { return percentile(ds, 0.5) }

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[int(p*float64(len(s)-1))]
}
