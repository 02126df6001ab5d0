//go:build unix

package supervise_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/tetherplug/tether/internal/plugintest"
	"github.com/tetherplug/tether/supervise"
	"github.com/tetherplug/tether/tethertest"
)

// benchPlugins is how many plugins BenchmarkIdle supervises: 200, or
// $TETHER_BENCH_PLUGINS.
func benchPlugins() int {
	if n, err := strconv.Atoi(os.Getenv("TETHER_BENCH_PLUGINS")); err == nil && n > 0 {
		return n
	}
	return 200
}

// BenchmarkIdle is issue 9's footprint benchmark: supervise 200 idle echo
// plugins (default health checks every 10 s) and report the time to start
// them all (start-ms: Apply until every one is ready), the host's CPU
// while they idle, over two health-check intervals (idle-cpu-%: percent of
// one core), and the host's memory per plugin (heap-KiB/plugin after a GC,
// rss-KiB/plugin). Run it with -benchtime 1x.
func BenchmarkIdle(b *testing.B) {
	n := benchPlugins()
	path := tethertest.Build(b, plugintest.EchoPlugin)
	for b.Loop() {
		ev := make(chan supervise.Event, 4*n)
		s, err := supervise.New(supervise.Config{Logger: quiet(), OnEvent: func(e supervise.Event) { ev <- e }})
		if err != nil {
			b.Fatal(err)
		}
		specs := make([]supervise.Spec, n)
		for i := range specs {
			specs[i] = supervise.Spec{Name: fmt.Sprintf("p%03d", i), Target: path}
		}
		heap0, rss0 := memory()
		start := time.Now()
		if err := s.Apply(context.Background(), specs); err != nil {
			b.Fatal(err)
		}
		for ready := 0; ready < n; {
			select {
			case e := <-ev:
				if e.Kind == supervise.Ready {
					ready++
				}
			case <-time.After(2 * time.Minute):
				b.Fatalf("%d of %d plugins ready after 2 minutes", ready, n)
			}
		}
		b.ReportMetric(float64(time.Since(start).Milliseconds()), "start-ms")
		window := 2 * supervise.DefaultHealth.Interval
		cpu0, wall0 := cpuTime(), time.Now()
		time.Sleep(window) // the measurement: idle plugins, nothing to wait for
		idle := float64(cpuTime()-cpu0) / float64(time.Since(wall0))
		b.ReportMetric(100*idle, "idle-cpu-%")
		heap, rss := memory()
		b.ReportMetric(float64(heap-heap0)/1024/float64(n), "heap-KiB/plugin")
		b.ReportMetric(float64(rss-rss0)/1024/float64(n), "rss-KiB/plugin")
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		err = s.Close(ctx)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
	}
}

// cpuTime is the CPU time this process used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
