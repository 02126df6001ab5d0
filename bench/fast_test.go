package bench

import (
	"slices"
	"sync"
	"testing"

	"github.com/tetherplug/tether/internal/plugintest"
)

// The fast transport's paired runs (issue 17): the floor, raw grpc-go,
// tether over gRPC and tether fast, measured side by side in one run.

var (
	floorOnce sync.Once
	floorSide Floor
	floorErr  error
)

// fastSides returns the four sides of FastSides: floor, grpc, tether-grpc,
// tether-fast.
func fastSides(tb testing.TB) []Side {
	tb.Helper()
	s := bothSides(tb)
	floorOnce.Do(func() { floorSide, floorErr = BuildFloor(buildDir) })
	if floorErr != nil {
		tb.Fatal(floorErr)
	}
	return FastSides(floorSide, s[0].(Tether), s[1].(Raw))
}

// Side names of FastSides.
const (
	floorName = "floor"
	grpcName  = "grpc"
	tgrpcName = "tether-grpc"
	fastName  = "tether-fast"
)

// Ratios every fast-transport run reports where the sides take part.
var (
	fastVsGRPC   = []Ratio{{fastName, grpcName}, {fastName, tgrpcName}, {tgrpcName, grpcName}}
	fastVsFloor  = append([]Ratio{{fastName, floorName}}, fastVsGRPC...)
	floorVsGRPC  = Ratio{floorName, grpcName}
	withoutFloor = func(tb testing.TB) []Side { return fastSides(tb)[1:] }
)

// BenchmarkFastUnaryLatency: p50 and p99 of sequential 64-byte calls on
// the four sides in one run.
func BenchmarkFastUnaryLatency(b *testing.B) { UnaryLatencyPairedN(b, fastSides(b), fastVsFloor...) }

// BenchmarkFastThroughput16: calls/s of 16 callers on the four sides in
// one run (the floor with a connection per caller).
func BenchmarkFastThroughput16(b *testing.B) {
	ThroughputPairedN(b, fastSides(b), slices.Concat(fastVsFloor, []Ratio{floorVsGRPC})...)
}

// BenchmarkFastLargeEcho1MiB: 1 MiB echoes on grpc, tether-grpc and
// tether-fast in one run.
func BenchmarkFastLargeEcho1MiB(b *testing.B) { LargeEchoPairedN(b, withoutFloor(b), fastVsGRPC...) }

// BenchmarkFastStream64KiB: 64 KiB messages on a Bidi stream, three sides.
func BenchmarkFastStream64KiB(b *testing.B) { StreamPairedN(b, withoutFloor(b), fastVsGRPC...) }

// BenchmarkFastCallback: a call the server answers by calling the host
// back, three sides.
func BenchmarkFastCallback(b *testing.B) {
	CallbackPairedN(b, withoutFloor(b), plugintest.EchoServer{}, fastVsGRPC...)
}

// BenchmarkFastStartToFirstCall: start a server process and complete the
// first call, three sides in turn.
func BenchmarkFastStartToFirstCall(b *testing.B) {
	s := withoutFloor(b)
	b.ResetTimer()
	StartToFirstCallPairedN(b, s, fastVsGRPC...)
}

// BenchmarkFastIdleFootprint: the host's heap, goroutines and threads per
// idle loaded server, IdlePlugins of each of three sides in turn.
func BenchmarkFastIdleFootprint(b *testing.B) {
	s := withoutFloor(b)
	b.ResetTimer()
	IdleFootprintPairedN(b, s, fastVsGRPC...)
}
