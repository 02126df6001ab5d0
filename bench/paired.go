package bench

import (
	"context"
	"errors"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tetherplug/tether/internal/pb/echov1"
)

// Block is how many calls a paired measurement makes on one side before it
// switches to the next: short enough that a change in the machine's load
// hits every side alike, long enough that each side's connection is in its
// steady state.
const Block = 200

// Ratio is a ratio a paired run of several sides reports: side Num's
// figure divided by side Den's, as the metric "NUM/DEN-FIGURE-ratio" (for
// example "tether-fast/floor-p50-ratio").
type Ratio struct{ Num, Den string }

// pairedSide is one running server of a paired measurement and what was
// measured on it.
type pairedSide struct {
	name      string
	inst      *Instance
	ds        []time.Duration // unary: one per call
	rates     []float64       // throughput: calls/s or MB/s, one per block
	hostCPU   time.Duration   // host process CPU while this side was measured
	pluginCPU time.Duration   // the server process's CPU while this side was measured
	calls     int
	stream    echov1.Echo_BidiClient // StreamPaired's
}

// startSides starts one server of each side with start (Side.Start, or
// StartRelay for the callback measurement) and warms it up; the returned
// function stops them all.
func startSides(b *testing.B, sides []Side, start func(Side) (*Instance, error)) ([]*pairedSide, func()) {
	b.Helper()
	ps := make([]*pairedSide, 0, len(sides))
	stop := func() {
		for _, p := range ps {
			if err := p.inst.Close(); err != nil {
				b.Error(err)
			}
		}
	}
	for _, side := range sides {
		inst, err := start(side)
		if err != nil {
			stop()
			b.Fatalf("%s: %v", side.Name(), err)
		}
		ps = append(ps, &pairedSide{name: side.Name(), inst: inst})
		warmUp(b, inst.Echo, make([]byte, SmallPayload))
	}
	return ps, stop
}

func startEach(s Side) (*Instance, error) { return s.Start(context.Background()) }

// inTurn orders the sides of a round: rotated by the round number, and
// reversed in every other cycle of len(ps) rounds, so that each side runs
// in each position equally often, and of two sides each runs directly
// after the other as often as the other way round (two sides: AB BA BA AB
// ...). A side that always ran first measured here 3% slower than itself.
func inTurn[T any](ps []T, round int) []T {
	n := len(ps)
	out := append(slices.Clone(ps[round%n:]), ps[:round%n]...)
	if (round/n)%2 == 1 {
		slices.Reverse(out)
	}
	return out
}

// rounds makes b.N calls on each side, per of them at a time, side after
// side in the order of inTurn; block makes n calls on p. The host's and
// each server's CPU time is added up per side.
func rounds(b *testing.B, ps []*pairedSide, per int, block func(p *pairedSide, n int) error) {
	b.ResetTimer()
	for round, done := 0, 0; done < b.N; round, done = round+1, done+per {
		n := min(per, b.N-done)
		for _, p := range inTurn(ps, round) {
			if err := p.measureBlock(func() error { return block(p, n) }); err != nil {
				b.Fatalf("%s: %v", p.name, err)
			}
			p.calls += n
		}
	}
	b.StopTimer()
}

// measureBlock runs f, adding the host's and the server's CPU time to p.
func (p *pairedSide) measureBlock(f func() error) error {
	h0, s0 := hostCPU(), processCPU(p.inst.Pid)
	err := f()
	p.hostCPU += hostCPU() - h0
	p.pluginCPU += processCPU(p.inst.Pid) - s0
	return err
}

// sequential makes n sequential 64-byte Unary calls on p, recording each
// one's duration.
func sequential(p *pairedSide, n int) error {
	msg := &echov1.Message{Payload: make([]byte, SmallPayload)}
	for range n {
		start := time.Now()
		if _, err := p.inst.Echo.Unary(context.Background(), msg); err != nil {
			return err
		}
		p.ds = append(p.ds, time.Since(start))
	}
	return nil
}

// concurrent makes n 64-byte Unary calls on p from Callers goroutines and
// records the rate. The callers carry the side's name as a profile label
// (go tool pprof -tagfocus side=NAME).
func concurrent(p *pairedSide, n int) (err error) {
	msg := &echov1.Message{Payload: make([]byte, SmallPayload)}
	start := time.Now()
	pprof.Do(context.Background(), pprof.Labels("side", p.name), func(context.Context) {
		err = parallelCalls(p.inst.Echo, msg, n)
	})
	p.rates = append(p.rates, float64(n)/time.Since(start).Seconds())
	return err
}

// figures is what a paired run reports per side: its name → value.
type figures map[string]float64

// report reports each side's figure as NAME-unit and each ratio as
// NUM/DEN-figure-ratio.
func report(b *testing.B, ps []*pairedSide, unit, figure string, f func(*pairedSide) float64, ratios []Ratio) figures {
	got := figures{}
	for _, p := range ps {
		got[p.name] = f(p)
		b.ReportMetric(got[p.name], p.name+"-"+unit)
	}
	reportRatios(b, got, figure, ratios)
	return got
}

func p50(p *pairedSide) float64        { return micros(percentile(p.ds, 0.50)) }
func p99(p *pairedSide) float64        { return micros(percentile(p.ds, 0.99)) }
func medianRate(p *pairedSide) float64 { return medianOf(p.rates) }

func medianOf(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	return s[len(s)/2]
}

// UnaryLatencyPaired is UnaryLatency for two sides in one run: it starts a
// server of each and makes b.N sequential 64-byte Unary calls to each,
// alternating Block calls to one and Block calls to the other, in ABBA order.
// It reports each side's NAME-p50-us and NAME-p99-us, their ratios
// p50-ratio and p99-ratio (first ÷ second), and the CPU each call cost the
// host and the server process, NAME-host-cpu-us and NAME-plugin-cpu-us.
func UnaryLatencyPaired(b *testing.B, first, second Side) {
	got50, got99 := latencyRun(b, []Side{first, second}, startEach, nil)
	b.ReportMetric(got50[first.Name()]/got50[second.Name()], "p50-ratio")
	b.ReportMetric(got99[first.Name()]/got99[second.Name()], "p99-ratio")
}

// UnaryLatencyPairedN is UnaryLatencyPaired for any number of sides (in
// the rotation of inTurn), reporting each Ratio of p50 and p99 latencies
// as NUM/DEN-p50-ratio and NUM/DEN-p99-ratio.
func UnaryLatencyPairedN(b *testing.B, sides []Side, ratios ...Ratio) {
	latencyRun(b, sides, startEach, ratios)
}

// CallbackPairedN is UnaryLatencyPairedN on servers started with
// StartRelay, serving host: each call is answered by calling the host back.
func CallbackPairedN(b *testing.B, sides []Side, host echov1.EchoServer, ratios ...Ratio) {
	latencyRun(b, sides, func(s Side) (*Instance, error) { return s.StartRelay(context.Background(), host) }, ratios)
}

func latencyRun(b *testing.B, sides []Side, start func(Side) (*Instance, error), ratios []Ratio) (p50s, p99s figures) {
	ps, stop := startSides(b, sides, start)
	defer stop()
	rounds(b, ps, Block, sequential)
	p50s = report(b, ps, "p50-us", "p50", p50, ratios)
	p99s = report(b, ps, "p99-us", "p99", p99, ratios)
	for _, p := range ps {
		p.reportCPU(b)
	}
	return p50s, p99s
}

// ThroughputPaired is Throughput for two sides in one run: blocks of
// Callers×Block calls, Callers goroutines sharing one connection, go to one
// side then the other until each side has made b.N calls. It reports each
// side's median NAME-calls/s over its blocks, their ratio calls/s-ratio
// (first ÷ second) and the CPU per call as UnaryLatencyPaired does.
func ThroughputPaired(b *testing.B, first, second Side) {
	got := throughputRun(b, []Side{first, second}, nil)
	b.ReportMetric(got[first.Name()]/got[second.Name()], "calls/s-ratio")
}

// ThroughputPairedN is ThroughputPaired for any number of sides, reporting
// each Ratio as NUM/DEN-calls/s-ratio.
func ThroughputPairedN(b *testing.B, sides []Side, ratios ...Ratio) {
	throughputRun(b, sides, ratios)
}

func throughputRun(b *testing.B, sides []Side, ratios []Ratio) figures {
	ps, stop := startSides(b, sides, startEach)
	defer stop()
	rounds(b, ps, Callers*Block, concurrent)
	got := report(b, ps, "calls/s", "calls/s", medianRate, ratios)
	for _, p := range ps {
		p.reportCPU(b)
	}
	return got
}

// parallelCalls makes n Unary calls from Callers goroutines.
func parallelCalls(echo echov1.EchoClient, msg *echov1.Message, n int) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, Callers)
	for i := range Callers {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				if _, err := echo.Unary(context.Background(), msg); err != nil {
					errs[i] = err
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (p *pairedSide) reportCPU(b *testing.B) {
	if p.calls == 0 {
		return
	}
	b.ReportMetric(micros(p.hostCPU)/float64(p.calls), p.name+"-host-cpu-us")
	if p.pluginCPU > 0 {
		b.ReportMetric(micros(p.pluginCPU)/float64(p.calls), p.name+"-plugin-cpu-us")
	}
}
