package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/tetherplug/tether/internal/pb/echov1"
)

// Blocks of the paired bulk measurements: calls or messages per side
// before the next side's turn.
const (
	LargeBlock  = 4  // 1 MiB echoes
	StreamBlock = 32 // 64 KiB stream messages
)

// LargeEchoPairedN is LargeEcho for several sides in one run: b.N
// sequential 1 MiB Unary echoes per side, LargeBlock at a time, in the
// rotation of inTurn. It reports each side's median NAME-MB/s over its
// blocks (the payload counted once) and each Ratio as NUM/DEN-MB/s-ratio.
func LargeEchoPairedN(b *testing.B, sides []Side, ratios ...Ratio) {
	ps, stop := startSides(b, sides, startEach)
	defer stop()
	msg := &echov1.Message{Payload: make([]byte, LargePayload)}
	for _, p := range ps {
		warmUp(b, p.inst.Echo, msg.Payload)
	}
	rounds(b, ps, LargeBlock, func(p *pairedSide, n int) error {
		start := time.Now()
		for range n {
			resp, err := p.inst.Echo.Unary(context.Background(), msg)
			if err != nil {
				return err
			}
			if len(resp.Payload) != LargePayload {
				return fmt.Errorf("echo returned %d bytes, want %d", len(resp.Payload), LargePayload)
			}
		}
		p.rates = append(p.rates, float64(n*LargePayload)/1e6/time.Since(start).Seconds())
		return nil
	})
	report(b, ps, "MB/s", "MB/s", medianRate, ratios)
}

// StreamPairedN is Stream for several sides in one run: one Bidi stream
// per side, open for the whole run, carries b.N 64 KiB messages each way,
// StreamBlock at a time (sent while the echoes are received), in the
// rotation of inTurn. It reports each side's median NAME-MB/s over its
// blocks (each message counted once) and each Ratio as
// NUM/DEN-MB/s-ratio.
func StreamPairedN(b *testing.B, sides []Side, ratios ...Ratio) {
	ps, stop := startSides(b, sides, startEach)
	defer stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, p := range ps {
		s, err := p.inst.Echo.Bidi(ctx)
		if err != nil {
			b.Fatalf("%s: %v", p.name, err)
		}
		p.stream = s
	}
	msg := &echov1.Message{Payload: make([]byte, StreamMessage)}
	rounds(b, ps, StreamBlock, func(p *pairedSide, n int) error {
		start := time.Now()
		if err := streamBlock(p.stream, msg, n); err != nil {
			return err
		}
		p.rates = append(p.rates, float64(n*StreamMessage)/1e6/time.Since(start).Seconds())
		return nil
	})
	for _, p := range ps {
		if err := p.stream.CloseSend(); err != nil {
			b.Fatalf("%s: %v", p.name, err)
		}
		if _, err := p.stream.Recv(); err != io.EOF {
			b.Fatalf("%s: the stream did not end cleanly: %v", p.name, err)
		}
	}
	report(b, ps, "MB/s", "MB/s", medianRate, ratios)
}

// streamBlock sends n messages down s while it receives their n echoes.
func streamBlock(s echov1.Echo_BidiClient, msg *echov1.Message, n int) error {
	sent := make(chan error, 1)
	go func() {
		for range n {
			if err := s.Send(msg); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	for range n {
		m, err := s.Recv()
		if err != nil {
			return errors.Join(err, <-sent)
		}
		if len(m.Payload) != StreamMessage {
			return errors.Join(fmt.Errorf("stream returned %d bytes, want %d", len(m.Payload), StreamMessage), <-sent)
		}
	}
	return <-sent
}

// StartToFirstCallPairedN is StartToFirstCall for several sides at once:
// one start-up of each side per round, in the rotation of inTurn, so that
// a change in the machine's load hits all alike. It reports each side's
// median as NAME-p50-ms and each Ratio as NUM/DEN-start-ratio; ns/op
// covers one start-up and stop of every side. It returns the medians by
// side name.
func StartToFirstCallPairedN(b *testing.B, sides []Side, ratios ...Ratio) map[string]float64 {
	ds := map[string][]time.Duration{}
	for round := range b.N {
		for _, side := range inTurn(sides, round) {
			d, stop, err := firstCall(side)
			ds[side.Name()] = append(ds[side.Name()], d)
			if serr := stop(); err == nil {
				err = serr
			}
			if err != nil {
				b.Fatalf("%s: %v", side.Name(), err)
			}
		}
	}
	got := figures{}
	for _, side := range sides {
		got[side.Name()] = millis(percentile(ds[side.Name()], 0.50))
		b.ReportMetric(got[side.Name()], side.Name()+"-p50-ms")
	}
	reportRatios(b, got, "start", ratios)
	return got
}

// IdleFootprintPairedN is IdleFootprint for several sides in one run: per
// round, IdlePlugins servers of each side are loaded, measured and
// stopped, side after side in the rotation of inTurn. It reports each
// side's mean NAME-heap-KiB/plugin, NAME-goroutines/plugin and
// NAME-threads/plugin, and each Ratio of heap and goroutines as
// NUM/DEN-heap-ratio and NUM/DEN-goroutines-ratio.
func IdleFootprintPairedN(b *testing.B, sides []Side, ratios ...Ratio) {
	sum := map[string]*Footprint{}
	for _, side := range sides {
		sum[side.Name()] = &Footprint{}
	}
	for round := range b.N {
		for _, side := range inTurn(sides, round) {
			f, err := MeasureFootprint(context.Background(), side, IdlePlugins)
			if err != nil {
				b.Fatalf("%s: %v", side.Name(), err)
			}
			s := sum[side.Name()]
			s.HeapKiB += f.HeapKiB
			s.Goroutines += f.Goroutines
			s.Threads += f.Threads
		}
	}
	heap, gs := figures{}, figures{}
	for _, side := range sides {
		s, n := sum[side.Name()], float64(b.N)
		heap[side.Name()], gs[side.Name()] = s.HeapKiB/n, s.Goroutines/n
		b.ReportMetric(s.HeapKiB/n, side.Name()+"-heap-KiB/plugin")
		b.ReportMetric(s.Goroutines/n, side.Name()+"-goroutines/plugin")
		b.ReportMetric(s.Threads/n, side.Name()+"-threads/plugin")
	}
	reportRatios(b, heap, "heap", ratios)
	reportRatios(b, gs, "goroutines", ratios)
}

// reportRatios reports each ratio of got as NUM/DEN-figure-ratio.
func reportRatios(b *testing.B, got figures, figure string, ratios []Ratio) {
	for _, r := range ratios {
		num, ok1 := got[r.Num]
		den, ok2 := got[r.Den]
		if !ok1 || !ok2 || den == 0 {
			b.Fatalf("ratio %s/%s: no such side in this run, or a zero figure", r.Num, r.Den)
		}
		b.ReportMetric(num/den, r.Num+"/"+r.Den+"-"+figure+"-ratio")
	}
}
