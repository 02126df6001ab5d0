package compat_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tetherplug/tether"
	greeterv1 "github.com/tetherplug/tether/examples/greeter/greeterpb/v1"
	"github.com/tetherplug/tether/tethertest"
)

// fastBlock is how many calls a paired run makes on one plugin before the
// next one's turn; fastCallers how many goroutines share one plugin's
// connection in the throughput run.
const (
	fastBlock   = 200
	fastCallers = 16
)

// fastLoaders are the greeter loaded with go-plugin, with tether over gRPC
// (WithTransport(TransportGRPC)) and with tether's fast transport (the
// default between a tether host and a local tether plugin, checked).
func fastLoaders(tb testing.TB) []loader {
	tb.Helper()
	tetherBin := tethertest.Build(tb, "github.com/tetherplug/tether/compat/internal/tethergreeter")
	ls := bothLoaders(tb)
	return []loader{
		ls[1],
		{"tether-grpc", func(ctx context.Context) (greeterv1.GreeterClient, int, func() error, error) {
			return loadTether(ctx, tetherBin, tether.TransportGRPC)
		}},
		{"tether-fast", func(ctx context.Context) (greeterv1.GreeterClient, int, func() error, error) {
			return loadTether(ctx, tetherBin, tether.TransportFast)
		}},
	}
}

// loaded is one loaded plugin of a paired run and what was measured on it.
type loaded struct {
	name  string
	g     greeterv1.GreeterClient
	ds    []time.Duration
	rates []float64
}

// pairedFast loads one greeter with each of fastLoaders and runs block(p,
// n) on each in turn, n calls at a time until each made b.N, rotating the
// order every round (reversed every other cycle) so that none always goes
// first. It returns the loaded plugins.
func pairedFast(b *testing.B, per int, block func(p *loaded, n int) error) []*loaded {
	ctx := context.Background()
	var ps []*loaded
	for _, l := range fastLoaders(b) {
		g, _, stop, err := l.load(ctx)
		if err != nil {
			b.Fatalf("%s: %v", l.name, err)
		}
		b.Cleanup(func() {
			if err := stop(); err != nil {
				b.Error(err)
			}
		})
		ps = append(ps, &loaded{name: l.name, g: g})
	}
	b.ResetTimer()
	for round, done := 0, 0; done < b.N; round, done = round+1, done+per {
		order := append(slices.Clone(ps[round%len(ps):]), ps[:round%len(ps)]...)
		if (round/len(ps))%2 == 1 {
			slices.Reverse(order)
		}
		for _, p := range order {
			if err := block(p, min(per, b.N-done)); err != nil {
				b.Fatalf("%s: %v", p.name, err)
			}
		}
	}
	b.StopTimer()
	return ps
}

// BenchmarkFastUnaryLatencyPaired: sequential Greet calls to go-plugin,
// tether-grpc and tether-fast greeters in one run, blocks of 200 in turn;
// reports each one's p50-us and p99-us and tether-fast ÷ the others.
func BenchmarkFastUnaryLatencyPaired(b *testing.B) {
	req := &greeterv1.GreetRequest{Name: "Ada"}
	ps := pairedFast(b, fastBlock, func(p *loaded, n int) error {
		for range n {
			start := time.Now()
			if _, err := p.g.Greet(context.Background(), req); err != nil {
				return err
			}
			p.ds = append(p.ds, time.Since(start))
		}
		return nil
	})
	reportFast(b, ps, "p50-us", "p50", func(p *loaded) float64 { return micros(median(p.ds)) })
	reportFast(b, ps, "p99-us", "p99", func(p *loaded) float64 { return micros(percentile(p.ds, 0.99)) })
}

// BenchmarkFastThroughput16Paired: 16 goroutines sharing one greeter's
// connection, blocks of 3,200 calls on go-plugin, tether-grpc and
// tether-fast in turn; reports each one's median calls/s over its blocks
// and tether-fast ÷ the others.
func BenchmarkFastThroughput16Paired(b *testing.B) {
	req := &greeterv1.GreetRequest{Name: "Ada"}
	ps := pairedFast(b, fastCallers*fastBlock, func(p *loaded, n int) error {
		start := time.Now()
		var next atomic.Int64
		var wg sync.WaitGroup
		errs := make([]error, fastCallers)
		for i := range fastCallers {
			wg.Go(func() {
				for next.Add(1) <= int64(n) {
					if _, err := p.g.Greet(context.Background(), req); err != nil {
						errs[i] = err
						return
					}
				}
			})
		}
		wg.Wait()
		p.rates = append(p.rates, float64(n)/time.Since(start).Seconds())
		return errors.Join(errs...)
	})
	reportFast(b, ps, "calls/s", "calls/s", func(p *loaded) float64 {
		r := slices.Sorted(slices.Values(p.rates))
		return r[len(r)/2]
	})
}

// reportFast reports f of each plugin as NAME-unit and tether-fast's
// ratio to each other one as tether-fast/NAME-figure-ratio.
func reportFast(b *testing.B, ps []*loaded, unit, figure string, f func(*loaded) float64) {
	got := map[string]float64{}
	for _, p := range ps {
		got[p.name] = f(p)
		b.ReportMetric(got[p.name], p.name+"-"+unit)
	}
	for _, p := range ps {
		if p.name != "tether-fast" && got[p.name] != 0 {
			b.ReportMetric(got["tether-fast"]/got[p.name], "tether-fast/"+p.name+"-"+figure+"-ratio")
		}
	}
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
