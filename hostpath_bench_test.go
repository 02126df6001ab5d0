package tether_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/plugintest"
)

// inProcessEcho serves the echo plugin's interfaces with tether.NewServer
// on a Unix socket in this process and returns the socket's path.
func inProcessEcho(b *testing.B) string {
	dir, err := os.MkdirTemp("", "tether-hostpath-")
	if err != nil {
		b.Fatal(err)
	}
	sock := filepath.Join(dir, "echo.sock")
	lis, err := net.Listen("unix", sock)
	if err != nil {
		b.Fatal(err)
	}
	register := func(r grpc.ServiceRegistrar) { echov1.RegisterEchoServer(r, plugintest.EchoServer{}) }
	srv := tether.NewServer(tether.ServeConfig{Name: "echo",
		Implementations: []tether.Implementation{tether.Implement("echo", 1, register)}})
	go func() { _ = srv.Serve(lis) }()
	b.Cleanup(func() { srv.GRPCServer().Stop(); os.RemoveAll(dir) })
	return sock
}

// BenchmarkHostPath makes sequential 64-byte Unary calls to one in-process
// tether server, through a tether Client (resolver, balancer, per-endpoint
// credentials, interceptors, session metadata) and through a plain
// grpc.NewClient. The server is the same, so the difference in ns/op and
// allocs/op is the host side's per-call work (and the server's for the
// session metadata).
func BenchmarkHostPath(b *testing.B) {
	b.ReportAllocs()
	sock := inProcessEcho(b)
	ctx := context.Background()
	c, err := tether.Open(ctx, registerStatic(tether.Endpoint{Network: "unix", Address: sock}), tether.WithInterface("echo", 1))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	viaTether, err := tether.Dispense(c, "echo", echov1.NewEchoClient)
	if err != nil {
		b.Fatal(err)
	}
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	clients := []struct {
		name string
		echo echov1.EchoClient
	}{{"tether", viaTether}, {"grpc", echov1.NewEchoClient(conn)}}
	msg := &echov1.Message{Payload: make([]byte, 64)}
	for _, cl := range clients {
		b.Run(cl.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := cl.echo.Unary(ctx, msg); err != nil {
					b.Fatal(err)
				}
			}
		})
		// 16 callers sharing the connection, as bench.Throughput.
		b.Run(cl.name+"-16", func(b *testing.B) {
			b.SetParallelism(8) // 8 × GOMAXPROCS 2
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := cl.echo.Unary(ctx, msg); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
