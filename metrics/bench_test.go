package metrics_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/metrics"
)

// benchEcho launches the echo plugin, counted by a Collector when on, and
// returns its stub.
func benchEcho(b *testing.B, on bool) echov1.EchoClient {
	b.Helper()
	opts := []tether.Option{tether.WithStartTimeout(20 * time.Second)}
	if on {
		opts = append(opts, metrics.New().Option())
	}
	c, err := tether.Launch(context.Background(), echoPath(b), opts...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	echo, err := tether.Dispense(c, "echo", echov1.NewEchoClient)
	if err != nil {
		b.Fatal(err)
	}
	return echo
}

// BenchmarkUnary is one caller's unary calls, metrics off and on.
func BenchmarkUnary(b *testing.B) {
	for _, side := range []struct {
		name string
		on   bool
	}{{"off", false}, {"on", true}} {
		b.Run(side.name, func(b *testing.B) {
			echo := benchEcho(b, side.on)
			msg := &echov1.Message{Text: "x"}
			for b.Loop() {
				if _, err := echo.Unary(context.Background(), msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkUnary16 is 16 callers' unary calls, metrics off and on.
func BenchmarkUnary16(b *testing.B) {
	for _, side := range []struct {
		name string
		on   bool
	}{{"off", false}, {"on", true}} {
		b.Run(side.name, func(b *testing.B) {
			echo := benchEcho(b, side.on)
			b.SetParallelism(max(1, 16/runtime.GOMAXPROCS(0))) // 16 callers
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				msg := &echov1.Message{Text: "x"}
				for pb.Next() {
					if _, err := echo.Unary(context.Background(), msg); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
