package bench

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/plugintest"
)

var (
	buildOnce sync.Once
	buildDir  string
	sides     []Side
	tlsSides  []Side
	buildErr  error
)

// TestMain removes the binaries the benchmarks built.
func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// bothSides builds the two server programs once per test binary and returns
// the tether side then the raw grpc-go side.
func bothSides(tb testing.TB) []Side {
	tb.Helper()
	buildOnce.Do(func() {
		if buildDir, buildErr = os.MkdirTemp("", "tether-bench-bin-"); buildErr != nil {
			return
		}
		var t, r, tt, rt Side
		if t, r, buildErr = Build(buildDir); buildErr != nil {
			return
		}
		sides = []Side{t, r}
		tt, rt, buildErr = TLSSides(filepath.Join(buildDir, "tls"), t.(Tether), r.(Raw))
		tlsSides = []Side{tt, rt}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return sides
}

// bothTLSSides is bothSides over loopback TCP with mutual TLS: the tether
// network plugin side then the raw grpc-go side, with the same
// certificates.
func bothTLSSides(tb testing.TB) []Side {
	tb.Helper()
	bothSides(tb)
	return tlsSides
}

// onRunning starts one server of each side, runs f against each as a
// sub-benchmark named after the side, and stops both.
func onRunning(b *testing.B, f func(*testing.B, echov1.EchoClient)) {
	for _, side := range bothSides(b) {
		inst, err := side.Start(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		b.Run(side.Name(), func(b *testing.B) { f(b, inst.Echo) })
		if err := inst.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// onRelaying is onRunning with servers that call the host back on every
// call: tether over the plugin's own connection, grpc over a second
// connection to a socket the host listens on.
func onRelaying(b *testing.B, f func(*testing.B, echov1.EchoClient)) {
	for _, side := range bothSides(b) {
		inst, err := side.StartRelay(context.Background(), plugintest.EchoServer{})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(side.Name(), func(b *testing.B) { f(b, inst.Echo) })
		if err := inst.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

func onSides(b *testing.B, f func(*testing.B, Side)) {
	for _, side := range bothSides(b) {
		b.Run(side.Name(), func(b *testing.B) { f(b, side) })
	}
}

func BenchmarkUnaryLatency(b *testing.B)     { onRunning(b, UnaryLatency) }
func BenchmarkThroughput16(b *testing.B)     { onRunning(b, Throughput) }
func BenchmarkLargeEcho1MiB(b *testing.B)    { onRunning(b, LargeEcho) }
func BenchmarkStream64KiB(b *testing.B)      { onRunning(b, Stream) }
func BenchmarkStartToFirstCall(b *testing.B) { onSides(b, StartToFirstCall) }

// BenchmarkCallbackRoundTrip times a host call that the server answers by
// calling the host back: p50-us and p99-us cover both round trips.
func BenchmarkCallbackRoundTrip(b *testing.B) { onRelaying(b, UnaryLatency) }
func BenchmarkIdleFootprint(b *testing.B)     { onSides(b, IdleFootprint) }

// BenchmarkStartToFirstCallPaired alternates tether and grpc start-ups and
// reports both medians and their ratio.
func BenchmarkStartToFirstCallPaired(b *testing.B) {
	s := bothSides(b)
	b.ResetTimer() // the first call builds the plugins
	StartToFirstCallPaired(b, s[0], s[1])
}

// BenchmarkUnaryLatencyPaired alternates blocks of tether and grpc calls
// in one run and reports both sides' percentiles and their ratios.
func BenchmarkUnaryLatencyPaired(b *testing.B) {
	s := bothSides(b)
	UnaryLatencyPaired(b, s[0], s[1])
}

// BenchmarkThroughput16Paired alternates blocks of 16-caller throughput on
// tether and grpc in one run and reports both rates and their ratio.
func BenchmarkThroughput16Paired(b *testing.B) {
	s := bothSides(b)
	ThroughputPaired(b, s[0], s[1])
}

// BenchmarkUnaryLatencyPairedTLS is BenchmarkUnaryLatencyPaired over
// loopback TCP with mutual TLS: tether's network runtime against plain
// grpc-go with the same certificates.
func BenchmarkUnaryLatencyPairedTLS(b *testing.B) {
	s := bothTLSSides(b)
	UnaryLatencyPaired(b, s[0], s[1])
}

// BenchmarkThroughput16PairedTLSKeepalive is BenchmarkThroughput16PairedTLS
// against a raw side with the same keepalive as tether's network runtime
// and plugins (both ends), so that both sides run the same transport
// settings.
func BenchmarkThroughput16PairedTLSKeepalive(b *testing.B) {
	s := bothTLSSides(b)
	raw := s[1].(RawTLS)
	raw.Keepalive = true
	ThroughputPaired(b, s[0], renamed{raw, "grpc-tls-keepalive"})
}

// BenchmarkThroughput16PairedTLS is BenchmarkThroughput16Paired over
// loopback TCP with mutual TLS.
func BenchmarkThroughput16PairedTLS(b *testing.B) {
	s := bothTLSSides(b)
	ThroughputPaired(b, s[0], s[1])
}
