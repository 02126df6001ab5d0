package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"testing"

	"github.com/tetherplug/tether/bench"
	"github.com/tetherplug/tether/internal/plugintest"
)

// fastMeasurement is one paired run of the fast transport's sides
// (bench.FastSides): all four, or without the floor, which has Unary calls
// only.
type fastMeasurement struct {
	run     func(b *testing.B, sides []bench.Side)
	floor   bool
	figures []figure
}

var fastMeasurements = []fastMeasurement{
	{run: func(b *testing.B, s []bench.Side) { bench.UnaryLatencyPairedN(b, s) }, floor: true, figures: []figure{
		{"unary 64 B, p50 latency (µs)", "p50-us"},
		{"unary 64 B, p99 latency (µs)", "p99-us"},
		{"unary 64 B, host CPU per call (µs)", "host-cpu-us"},
		{"unary 64 B, server process CPU per call (µs)", "plugin-cpu-us"},
	}},
	{run: func(b *testing.B, s []bench.Side) { bench.ThroughputPairedN(b, s) }, floor: true, figures: []figure{
		{"unary 64 B, 16 callers (calls/s)", "calls/s"}}},
	{run: func(b *testing.B, s []bench.Side) { bench.LargeEchoPairedN(b, s) }, figures: []figure{
		{"unary 1 MiB echo (MB/s)", "MB/s"}}},
	{run: func(b *testing.B, s []bench.Side) { bench.StreamPairedN(b, s) }, figures: []figure{
		{"bidi stream of 64 KiB messages (MB/s)", "MB/s"}}},
	{run: func(b *testing.B, s []bench.Side) { bench.CallbackPairedN(b, s, plugintest.EchoServer{}) }, figures: []figure{
		{"callback: host call answered by calling the host back, p50 (µs)", "p50-us"},
		{"callback: host call answered by calling the host back, p99 (µs)", "p99-us"},
	}},
	{run: func(b *testing.B, s []bench.Side) { bench.StartToFirstCallPairedN(b, s) }, figures: []figure{
		{"start to first call, p50 (ms)", "p50-ms"}}},
	{run: func(b *testing.B, s []bench.Side) { bench.IdleFootprintPairedN(b, s) }, figures: []figure{
		{"host heap per idle loaded plugin, 100 loaded (KiB)", "heap-KiB/plugin"},
		{"host goroutines per idle loaded plugin", "goroutines/plugin"},
	}},
}

// runFast measures the fast transport's sides, each measurement paired in
// one run per round, and prints the medians with tether-fast's ratios.
func runFast(w io.Writer, rounds int) error {
	dir, err := os.MkdirTemp("", "tether-benchreport-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	t, r, err := bench.Build(dir)
	if err != nil {
		return err
	}
	floor, err := bench.BuildFloor(dir)
	if err != nil {
		return err
	}
	sides := bench.FastSides(floor, t.(bench.Tether), r.(bench.Raw))
	names := make([]string, len(sides))
	for i, s := range sides {
		names[i] = s.Name()
	}
	values := map[string]map[string][]float64{} // figure label → side name → one per round
	for _, m := range fastMeasurements {
		in := sides
		if !m.floor {
			in = sides[1:]
		}
		for round := range rounds {
			fmt.Fprintf(os.Stderr, "%s: round %d of %d\n", m.figures[0].label, round+1, rounds)
			res := testing.Benchmark(func(b *testing.B) { m.run(b, in) })
			if res.N == 0 {
				return fmt.Errorf("%s failed", m.figures[0].label)
			}
			for _, f := range m.figures {
				if values[f.label] == nil {
					values[f.label] = map[string][]float64{}
				}
				for _, s := range in {
					values[f.label][s.Name()] = append(values[f.label][s.Name()], res.Extra[s.Name()+"-"+f.key])
				}
			}
		}
	}
	fmt.Fprintf(w, "Machine: %s, %d cores (GOMAXPROCS %d), %s %s/%s. Medians of %d rounds, all sides paired in each.\n\n",
		cpuModel(), runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), runtime.GOOS, runtime.GOARCH, rounds)
	fmt.Fprintln(w, "| benchmark | floor | grpc-go | tether-grpc | tether-fast | fast ÷ floor | fast ÷ grpc-go | fast ÷ tether-grpc |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, m := range fastMeasurements {
		for _, f := range m.figures {
			med := map[string]float64{}
			row := "| " + f.label
			for _, n := range names {
				vs, ok := values[f.label][n]
				if !ok {
					row += " | –"
					continue
				}
				med[n] = median(vs)
				row += " | " + format(med[n])
			}
			fast := med[names[3]]
			for _, n := range names[:3] {
				if d, ok := med[n]; ok && d != 0 {
					row += fmt.Sprintf(" | %.2f", fast/d)
				} else {
					row += " | –"
				}
			}
			fmt.Fprintln(w, row+" |")
		}
	}
	return nil
}
