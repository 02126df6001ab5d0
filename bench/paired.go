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
// switches to the other: short enough that a change in the machine's load
// hits both sides alike, long enough that each side's connection is in its
// steady state.
const Block = 200

// pairedSide is one running server of a paired measurement and what was
// measured on it.
type pairedSide struct {
	name      string
	inst      *Instance
	ds        []time.Duration // unary: one per call
	rates     []float64       // throughput: calls/s, one per block
	hostCPU   time.Duration   // host process CPU while this side was measured
	pluginCPU time.Duration   // the server process's CPU while this side was measured
	calls     int
}

// startPair starts one server of each side; the returned function stops
// both.
func startPair(b *testing.B, sides []Side) ([]*pairedSide, func()) {
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
		inst, err := side.Start(context.Background())
		if err != nil {
			stop()
			b.Fatal(err)
		}
		ps = append(ps, &pairedSide{name: side.Name(), inst: inst})
		warmUp(b, inst.Echo, make([]byte, SmallPayload))
	}
	return ps, stop
}

// inTurn orders the sides of a round: ABBA, so that neither side always
// runs first (which measured here as a 3% difference between a side and
// itself).
func inTurn(ps []*pairedSide, round int) []*pairedSide {
	if round%2 == 0 {
		return ps
	}
	return []*pairedSide{ps[1], ps[0]}
}

// measureBlock runs f, adding the host's and the server's CPU time to p.
func (p *pairedSide) measureBlock(f func() error) error {
	h0, s0 := hostCPU(), processCPU(p.inst.Pid)
	err := f()
	p.hostCPU += hostCPU() - h0
	p.pluginCPU += processCPU(p.inst.Pid) - s0
	return err
}

// UnaryLatencyPaired is UnaryLatency for two sides in one run: it starts a
// server of each and makes b.N sequential 64-byte Unary calls to each,
// alternating Block calls to one and Block calls to the other, in ABBA order.
// It reports each side's NAME-p50-us and NAME-p99-us, their ratios
// p50-ratio and p99-ratio (first ÷ second), and the CPU each call cost the
// host and the server process, NAME-host-cpu-us and NAME-plugin-cpu-us.
func UnaryLatencyPaired(b *testing.B, first, second Side) {
	ps, stop := startPair(b, []Side{first, second})
	defer stop()
	ctx := context.Background()
	msg := &echov1.Message{Payload: make([]byte, SmallPayload)}
	b.ResetTimer()
	for round, done := 0, 0; done < b.N; round, done = round+1, done+Block {
		n := min(Block, b.N-done)
		for _, p := range inTurn(ps, round) {
			err := p.measureBlock(func() error {
				for range n {
					start := time.Now()
					if _, err := p.inst.Echo.Unary(ctx, msg); err != nil {
						return err
					}
					p.ds = append(p.ds, time.Since(start))
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			p.calls += n
		}
	}
	b.StopTimer()
	p50 := make([]float64, len(ps))
	p99 := make([]float64, len(ps))
	for i, p := range ps {
		p50[i], p99[i] = micros(percentile(p.ds, 0.50)), micros(percentile(p.ds, 0.99))
		b.ReportMetric(p50[i], p.name+"-p50-us")
		b.ReportMetric(p99[i], p.name+"-p99-us")
		p.reportCPU(b)
	}
	b.ReportMetric(p50[0]/p50[1], "p50-ratio")
	b.ReportMetric(p99[0]/p99[1], "p99-ratio")
}

// ThroughputPaired is Throughput for two sides in one run: blocks of
// Callers×Block calls, Callers goroutines sharing one connection, go to one
// side then the other until each side has made b.N calls. It reports each
// side's median NAME-calls/s over its blocks, their ratio calls/s-ratio
// (first ÷ second) and the CPU per call as UnaryLatencyPaired does.
func ThroughputPaired(b *testing.B, first, second Side) {
	ps, stop := startPair(b, []Side{first, second})
	defer stop()
	msg := &echov1.Message{Payload: make([]byte, SmallPayload)}
	chunk := Callers * Block
	b.ResetTimer()
	for round, done := 0, 0; done < b.N; round, done = round+1, done+chunk {
		n := min(chunk, b.N-done)
		for _, p := range inTurn(ps, round) {
			start := time.Now()
			// The callers carry the side's name as a profile label
			// (go tool pprof -tagfocus side=NAME).
			call := func() (err error) {
				pprof.Do(context.Background(), pprof.Labels("side", p.name), func(context.Context) {
					err = parallelCalls(p.inst.Echo, msg, n)
				})
				return err
			}
			if err := p.measureBlock(call); err != nil {
				b.Fatal(err)
			}
			p.rates = append(p.rates, float64(n)/time.Since(start).Seconds())
			p.calls += n
		}
	}
	b.StopTimer()
	rate := make([]float64, len(ps))
	for i, p := range ps {
		slices.Sort(p.rates)
		rate[i] = p.rates[len(p.rates)/2]
		b.ReportMetric(rate[i], p.name+"-calls/s")
		p.reportCPU(b)
	}
	b.ReportMetric(rate[0]/rate[1], "calls/s-ratio")
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
