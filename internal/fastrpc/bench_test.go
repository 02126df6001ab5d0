package fastrpc

import (
	"context"
	"io"
	"net"
	"runtime"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/plugintest"
)

// The benchmarks pair three sides over the same kind of Unix socket in one
// process: "floor", a raw 64-byte ping-pong; "fastrpc"; and "grpc", grpc-go
// with the same Echo service. Run them together so that the ratios compare
// like with like, and repeat the whole run rather than use -count, so that
// the sides alternate:
//
//	go test -c -o /tmp/fastrpc.test ./internal/fastrpc
//	for i in 1 2 3 4 5; do /tmp/fastrpc.test -test.run '^$' \
//	    -test.bench 'Unary64B|Callers16|Unary1MiB' -test.benchtime 2s -test.benchmem; done

const benchPayload = 64

// benchSides returns a fresh unary-call function per caller for each side;
// "floor" gives each caller a connection of its own.
func benchSides(b *testing.B) []struct {
	name string
	call func() func() error
} {
	return []struct {
		name string
		call func() func() error
	}{
		{"floor", floorSide(b)},
		{"fastrpc", stubSide(b, fastConn(b))},
		{"grpc", stubSide(b, grpcConn(b))},
	}
}

func stubSide(b *testing.B, cc grpc.ClientConnInterface) func() func() error {
	c := echov1.NewEchoClient(cc)
	msg := &echov1.Message{Payload: make([]byte, benchPayload)}
	ctx := context.Background()
	return func() func() error {
		return func() error { _, err := c.Unary(ctx, msg); return err }
	}
}

func fastConn(b *testing.B) *ClientConn {
	cc, _ := startServer(b, plugintest.EchoServer{}, nil)
	return cc
}

func grpcConn(b *testing.B) *grpc.ClientConn {
	path := sockPath(b)
	lis, err := net.Listen("unix", path)
	if err != nil {
		b.Fatal(err)
	}
	srv := grpc.NewServer()
	echov1.RegisterEchoServer(srv, plugintest.EchoServer{})
	go func() { _ = srv.Serve(lis) }()
	cc, err := grpc.NewClient("unix://"+path, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cc.Close(); srv.Stop() })
	return cc
}

// floorSide is a raw ping-pong: write 64 bytes, read 64 bytes back.
func floorSide(b *testing.B) func() func() error {
	path := sockPath(b)
	lis, err := net.Listen("unix", path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { lis.Close() })
	go func() {
		for {
			nc, err := lis.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				buf := make([]byte, benchPayload)
				for {
					if _, err := io.ReadFull(nc, buf); err != nil {
						return
					}
					if _, err := nc.Write(buf); err != nil {
						return
					}
				}
			}()
		}
	}()
	return func() func() error {
		nc, err := net.Dial("unix", path)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { nc.Close() })
		buf := make([]byte, benchPayload)
		return func() error {
			if _, err := nc.Write(buf); err != nil {
				return err
			}
			_, err := io.ReadFull(nc, buf)
			return err
		}
	}
}

// BenchmarkUnary64B is one caller's round trip, with p50 and p99.
func BenchmarkUnary64B(b *testing.B) {
	for _, side := range benchSides(b) {
		b.Run(side.name, func(b *testing.B) {
			call := side.call()
			for i := 0; i < 1000; i++ { // warm up
				if err := call(); err != nil {
					b.Fatal(err)
				}
			}
			lat := make([]time.Duration, b.N)
			b.ResetTimer()
			for i := range lat {
				t0 := time.Now()
				if err := call(); err != nil {
					b.Fatal(err)
				}
				lat[i] = time.Since(t0)
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
			b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
		})
	}
}

// BenchmarkCallers16 is the throughput of 16 concurrent callers.
func BenchmarkCallers16(b *testing.B) {
	for _, side := range benchSides(b) {
		b.Run(side.name, func(b *testing.B) { runCallers16(b, side.call) })
	}
}

// runCallers16 makes calls from 16 concurrent callers, each with its own
// function from newCall, and reports calls/s.
func runCallers16(b *testing.B, newCall func() func() error) {
	calls := make(chan func() error, 16)
	for i := 0; i < 16; i++ {
		calls <- newCall()
	}
	b.SetParallelism(max(1, 16/runtimeProcs()))
	start := time.Now()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		call := <-calls
		for pb.Next() {
			if err := call(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "calls/s")
}

func runtimeProcs() int { return runtime.GOMAXPROCS(0) }

// BenchmarkUnary1MiB echoes a 1 MiB message (fastrpc and grpc only: the
// floor is about small calls).
func BenchmarkUnary1MiB(b *testing.B) {
	msg := &echov1.Message{Payload: make([]byte, 1<<20)}
	for _, side := range []struct {
		name string
		cc   grpc.ClientConnInterface
	}{{"fastrpc", fastConn(b)}, {"grpc", grpcConn(b)}} {
		b.Run(side.name, func(b *testing.B) {
			c := echov1.NewEchoClient(side.cc)
			b.SetBytes(2 << 20)
			for i := 0; i < b.N; i++ {
				if _, err := c.Unary(context.Background(), msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
