// Command benchreport runs tether's benchmarks (package bench) for tether and
// for raw grpc-go, alternating the two sides, and prints a Markdown table of
// the median of each figure over the rounds, with the ratio tether ÷ grpc-go.
// The "mutual TLS over TCP" rows compare a tether network plugin with
// rawecho over loopback TCP, both with the same mutual TLS certificates.
// With -fast it measures the fast local transport's four sides instead
// (bench.FastSides: the floor, raw grpc-go, tether over gRPC and tether
// fast), every measurement paired in one run per round, and prints their
// medians with tether-fast's ratios to the others. Run it from the tether
// module:
//
//	go run ./bench/cmd/benchreport [-rounds 3] [-fast]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/tetherplug/tether/bench"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/plugintest"
)

// figure is one row of the table: a metric of a measurement.
type figure struct {
	label string
	key   string // a metric reported by the measurement, or "MB/s"
}

// measurement is one benchmark run per side and round (run), or one run
// per round measuring both sides alternately (pair, which reports each
// figure's key prefixed with the side's name and a dash). Unary latency,
// throughput and start-up are paired: the figures a 5% target is set on
// must not depend on which side ran first.
type measurement struct {
	run     func(b *testing.B, side bench.Side)
	pair    func(b *testing.B, first, second bench.Side)
	tls     bool // over loopback TCP with mutual TLS (bench.TLSSides)
	figures []figure
}

// onRunning runs f against a server started outside the timed benchmark.
func onRunning(f func(*testing.B, echov1.EchoClient)) func(*testing.B, bench.Side) {
	return func(b *testing.B, side bench.Side) {
		inst, err := side.Start(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		defer inst.Close()
		f(b, inst.Echo)
	}
}

// onRelaying runs f against a server that calls the host back on every call.
func onRelaying(f func(*testing.B, echov1.EchoClient)) func(*testing.B, bench.Side) {
	return func(b *testing.B, side bench.Side) {
		inst, err := side.StartRelay(context.Background(), plugintest.EchoServer{})
		if err != nil {
			b.Fatal(err)
		}
		defer inst.Close()
		f(b, inst.Echo)
	}
}

var measurements = []measurement{
	{pair: bench.UnaryLatencyPaired, figures: []figure{
		{"unary 64 B, p50 latency (µs)", "p50-us"},
		{"unary 64 B, p99 latency (µs)", "p99-us"},
		{"unary 64 B, host CPU per call (µs)", "host-cpu-us"},
		{"unary 64 B, server process CPU per call (µs)", "plugin-cpu-us"},
	}},
	{pair: bench.ThroughputPaired, figures: []figure{{"unary 64 B, 16 callers on one connection (calls/s)", "calls/s"}}},
	{pair: bench.UnaryLatencyPaired, tls: true, figures: []figure{
		{"mutual TLS over TCP: unary 64 B, p50 latency (µs)", "p50-us"},
		{"mutual TLS over TCP: unary 64 B, p99 latency (µs)", "p99-us"},
		{"mutual TLS over TCP: unary 64 B, host CPU per call (µs)", "host-cpu-us"},
		{"mutual TLS over TCP: unary 64 B, server process CPU per call (µs)", "plugin-cpu-us"},
	}},
	{pair: bench.ThroughputPaired, tls: true, figures: []figure{
		{"mutual TLS over TCP: unary 64 B, 16 callers on one connection (calls/s)", "calls/s"}}},
	{run: onRunning(bench.LargeEcho), figures: []figure{{"unary 1 MiB echo (MB/s)", "MB/s"}}},
	{run: onRunning(bench.Stream), figures: []figure{{"bidi stream of 64 KiB messages (MB/s)", "MB/s"}}},
	{run: onRelaying(bench.UnaryLatency), figures: []figure{
		{"callback: host call answered by calling the host back, p50 (µs)", "p50-us"},
		{"callback: host call answered by calling the host back, p99 (µs)", "p99-us"},
	}},
	{pair: bench.StartToFirstCallPaired, figures: []figure{{"start to first call, p50 (ms)", "p50-ms"}}},
	{run: bench.IdleFootprint, figures: []figure{
		{"host heap per idle loaded plugin, 100 loaded (KiB)", "heap-KiB/plugin"},
		{"host goroutines per idle loaded plugin", "goroutines/plugin"},
		{"host OS threads per idle loaded plugin", "threads/plugin"},
	}},
}

func main() {
	rounds := flag.Int("rounds", 3, "how many times to run each benchmark on each side; the table shows medians")
	fast := flag.Bool("fast", false, "measure the fast transport beside the floor, raw grpc-go and tether over gRPC")
	flag.Parse()
	report := run
	if *fast {
		report = runFast
	}
	if err := report(os.Stdout, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

func run(w io.Writer, rounds int) error {
	dir, err := os.MkdirTemp("", "tether-benchreport-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	tetherSide, rawSide, err := bench.Build(dir)
	if err != nil {
		return err
	}
	tlsTether, tlsRaw, err := bench.TLSSides(filepath.Join(dir, "tls"), tetherSide.(bench.Tether), rawSide.(bench.Raw))
	if err != nil {
		return err
	}
	plainSides := []bench.Side{tetherSide, rawSide}
	tlsSides := []bench.Side{tlsTether, tlsRaw}

	// values[figure label][column] holds one value per round; column 0 is
	// tether's, 1 grpc-go's.
	values := map[string]*[2][]float64{}
	for _, m := range measurements {
		for _, f := range m.figures {
			values[f.label] = &[2][]float64{}
		}
		sides := plainSides
		if m.tls {
			sides = tlsSides
		}
		for round := range rounds {
			fmt.Fprintf(os.Stderr, "%s: round %d of %d\n", m.figures[0].label, round+1, rounds)
			if m.pair != nil {
				r := testing.Benchmark(func(b *testing.B) { m.pair(b, sides[0], sides[1]) })
				if r.N == 0 {
					return fmt.Errorf("%s failed", m.figures[0].label)
				}
				for _, f := range m.figures {
					for i, side := range sides {
						values[f.label][i] = append(values[f.label][i], r.Extra[side.Name()+"-"+f.key])
					}
				}
				continue
			}
			for i, side := range sides {
				r := testing.Benchmark(func(b *testing.B) { m.run(b, side) })
				if r.N == 0 {
					return fmt.Errorf("%s failed on %s", m.figures[0].label, side.Name())
				}
				for _, f := range m.figures {
					values[f.label][i] = append(values[f.label][i], metric(r, f.key))
				}
			}
		}
	}

	fmt.Fprintf(w, "Machine: %s, %d cores (GOMAXPROCS %d), %s %s/%s. Medians of %d rounds.\n\n",
		cpuModel(), runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), runtime.GOOS, runtime.GOARCH, rounds)
	fmt.Fprintln(w, "| benchmark | tether | grpc-go | tether ÷ grpc-go |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: |")
	for _, m := range measurements {
		for _, f := range m.figures {
			t, g := median(values[f.label][0]), median(values[f.label][1])
			ratio := "–"
			if g != 0 {
				ratio = fmt.Sprintf("%.2f", t/g)
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s |\n", f.label, format(t), format(g), ratio)
		}
	}
	return nil
}

func metric(r testing.BenchmarkResult, key string) float64 {
	if key == "MB/s" {
		return float64(r.Bytes) * float64(r.N) / 1e6 / r.T.Seconds()
	}
	return r.Extra[key]
}

func median(vs []float64) float64 {
	s := slices.Clone(vs)
	slices.Sort(s)
	return s[len(s)/2]
}

func format(v float64) string {
	switch {
	case v >= 1000:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}
