package bench

import (
	"context"
	"errors"
	"io"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tetherplug/tether/internal/pb/echov1"
)

// Sizes and counts the benchmarks use.
const (
	SmallPayload  = 64
	LargePayload  = 1 << 20
	StreamMessage = 64 << 10
	Callers       = 16
	IdlePlugins   = 100
)

func warmUp(b *testing.B, echo echov1.EchoClient, payload []byte) {
	for range 10 {
		if _, err := echo.Unary(context.Background(), &echov1.Message{Payload: payload}); err != nil {
			b.Fatal(err)
		}
	}
}

// UnaryLatency makes b.N sequential Unary calls with a 64-byte payload and
// reports the median and 99th percentile call durations as p50-us and
// p99-us.
func UnaryLatency(b *testing.B, echo echov1.EchoClient) {
	ctx := context.Background()
	msg := &echov1.Message{Payload: make([]byte, SmallPayload)}
	warmUp(b, echo, msg.Payload)
	ds := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		if _, err := echo.Unary(ctx, msg); err != nil {
			b.Fatal(err)
		}
		ds = append(ds, time.Since(start))
	}
	b.StopTimer()
	b.ReportMetric(micros(percentile(ds, 0.50)), "p50-us")
	b.ReportMetric(micros(percentile(ds, 0.99)), "p99-us")
}

// Throughput makes b.N Unary calls with a 64-byte payload from Callers
// goroutines sharing one connection and reports calls/s.
func Throughput(b *testing.B, echo echov1.EchoClient) {
	msg := &echov1.Message{Payload: make([]byte, SmallPayload)}
	warmUp(b, echo, msg.Payload)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, Callers)
	b.ResetTimer()
	for range Callers {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				if _, err := echo.Unary(context.Background(), msg); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}

// LargeEcho makes b.N sequential Unary calls with a 1 MiB payload; the
// MB/s figure counts the payload once per call (it travels both ways).
func LargeEcho(b *testing.B, echo echov1.EchoClient) {
	ctx := context.Background()
	msg := &echov1.Message{Payload: make([]byte, LargePayload)}
	warmUp(b, echo, msg.Payload)
	b.SetBytes(LargePayload)
	b.ResetTimer()
	for range b.N {
		resp, err := echo.Unary(ctx, msg)
		if err != nil {
			b.Fatal(err)
		}
		if len(resp.Payload) != LargePayload {
			b.Fatalf("echo returned %d bytes, want %d", len(resp.Payload), LargePayload)
		}
	}
}

// Stream sends b.N messages of 64 KiB down one Bidi stream while receiving
// their echoes; the MB/s figure counts each message once.
func Stream(b *testing.B, echo echov1.EchoClient) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := echo.Bidi(ctx)
	if err != nil {
		b.Fatal(err)
	}
	msg := &echov1.Message{Payload: make([]byte, StreamMessage)}
	b.SetBytes(StreamMessage)
	b.ResetTimer()
	sent := make(chan error, 1)
	go func() {
		for range b.N {
			if err := stream.Send(msg); err != nil {
				sent <- err
				return
			}
		}
		sent <- stream.CloseSend()
	}()
	for range b.N {
		m, err := stream.Recv()
		if err != nil {
			cancel()
			b.Fatal(errors.Join(err, <-sent))
		}
		if len(m.Payload) != StreamMessage {
			b.Fatalf("stream returned %d bytes, want %d", len(m.Payload), StreamMessage)
		}
	}
	if err := <-sent; err != nil {
		b.Fatal(err)
	}
	if _, err := stream.Recv(); err != io.EOF {
		b.Fatalf("stream did not end cleanly: %v", err)
	}
}

// StartToFirstCall starts b.N server processes one after the other and
// times each from the start of the launch to the end of its first
// successful Unary call, reported as p50-ms. Each process is stopped,
// outside the timer, before the next starts.
func StartToFirstCall(b *testing.B, side Side) {
	ds := make([]time.Duration, 0, b.N)
	for range b.N {
		d, stop, err := firstCall(side)
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
	b.ReportMetric(millis(percentile(ds, 0.50)), "p50-ms")
}

// StartToFirstCallPaired is StartToFirstCall for two sides at once,
// alternating their start-ups (StartToFirstCallPairedN), so that a change in
// the machine's load hits both alike; start-up is the figure most sensitive
// to it. It reports each side's median as NAME-p50-ms and their ratio as
// ratio; ns/op covers one start-up and stop of each side.
func StartToFirstCallPaired(b *testing.B, first, second Side) {
	got := StartToFirstCallPairedN(b, []Side{first, second})
	b.ReportMetric(got[first.Name()]/got[second.Name()], "ratio")
}

// firstCall starts a server of side and makes one Unary call. It returns
// the time from the start to the end of the call and a function that stops
// the server (a no-op when it did not start).
func firstCall(side Side) (time.Duration, func() error, error) {
	ctx := context.Background()
	start := time.Now()
	inst, err := side.Start(ctx)
	if err != nil {
		return 0, func() error { return nil }, err
	}
	_, err = inst.Echo.Unary(ctx, &echov1.Message{Payload: make([]byte, SmallPayload)})
	return time.Since(start), inst.Close, err
}

// Footprint is what one idle loaded server costs its host.
type Footprint struct {
	HeapKiB    float64 // live heap after GC, KiB
	Goroutines float64
	Threads    float64 // OS threads (Linux only, else 0)
}

// IdleFootprint loads IdlePlugins servers, makes one call to each so every
// connection is up, and reports the host's live heap (HeapAlloc after GC)
// goroutines and OS threads per loaded server as heap-KiB/plugin,
// goroutines/plugin and threads/plugin. All servers are stopped before it returns.
func IdleFootprint(b *testing.B, side Side) {
	var sum Footprint
	for range b.N {
		f, err := MeasureFootprint(context.Background(), side, IdlePlugins)
		if err != nil {
			b.Fatal(err)
		}
		sum.HeapKiB += f.HeapKiB
		sum.Goroutines += f.Goroutines
		sum.Threads += f.Threads
	}
	b.ReportMetric(sum.HeapKiB/float64(b.N), "heap-KiB/plugin")
	b.ReportMetric(sum.Goroutines/float64(b.N), "goroutines/plugin")
	b.ReportMetric(sum.Threads/float64(b.N), "threads/plugin")
}

// MeasureFootprint loads n servers of side and returns the host's growth in
// live heap and goroutines per server. It stops every server it started.
func MeasureFootprint(ctx context.Context, side Side, n int) (f Footprint, err error) {
	heap0, g0, t0 := hostUsage()
	insts := make([]*Instance, 0, n)
	defer func() {
		var wg sync.WaitGroup
		errs := make([]error, len(insts))
		for i, inst := range insts {
			wg.Go(func() { errs[i] = inst.Close() })
		}
		wg.Wait()
		err = errors.Join(append(errs, err)...)
	}()
	msg := &echov1.Message{Payload: make([]byte, SmallPayload)}
	for range n {
		inst, err := side.Start(ctx)
		if err != nil {
			return f, err
		}
		insts = append(insts, inst)
		if _, err := inst.Echo.Unary(ctx, msg); err != nil {
			return f, err
		}
	}
	heap1, g1, t1 := hostUsage()
	return Footprint{
		HeapKiB:    (float64(heap1) - float64(heap0)) / 1024 / float64(n),
		Goroutines: float64(g1-g0) / float64(n),
		Threads:    float64(t1-t0) / float64(n),
	}, nil
}

func hostUsage() (heap uint64, goroutines, threads int) {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc, runtime.NumGoroutine(), osThreads()
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[int(p*float64(len(s)-1))]
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
