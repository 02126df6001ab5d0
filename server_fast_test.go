//go:build unix

package tether

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/tetherplug/tether/internal/fastrpc"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/plugintest"
)

// servedBoth starts s on a Unix socket with its fast transport offered
// beside it, and returns an Echo client for each transport.
func servedBoth(t *testing.T, s *Server) (grpcEcho, fastEcho echov1.EchoClient) {
	t.Helper()
	lis, err := net.Listen("unix", filepath.Join(t.TempDir(), "plugin-1.sock"))
	if err != nil {
		t.Fatal(err)
	}
	cleanup := s.offerFast(lis, nil)
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(func() { s.Stop(); cleanup() })
	f := s.describe.GetFast()
	if f == nil {
		t.Fatal("the server offers no fast transport")
	}
	fc := fastrpc.Dial(f.Network, f.Address)
	t.Cleanup(func() { _ = fc.Close() })
	gc, err := grpc.NewClient("unix://"+lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gc.Close() })
	return echov1.NewEchoClient(gc), echov1.NewEchoClient(fc)
}

func TestServerInterceptorsRunOnBothTransports(t *testing.T) {
	var unary, streams atomic.Int32
	cfg := ServeConfig{
		Implementations: []Implementation{Implement("echo", 1, func(r grpc.ServiceRegistrar) {
			echov1.RegisterEchoServer(r, plugintest.EchoServer{})
		})},
		Logger: slog.New(slog.DiscardHandler),
		UnaryInterceptors: []grpc.UnaryServerInterceptor{func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			unary.Add(1)
			return h(ctx, req)
		}},
		StreamInterceptors: []grpc.StreamServerInterceptor{func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			streams.Add(1)
			return h(srv, ss)
		}},
	}
	grpcEcho, fastEcho := servedBoth(t, NewServer(cfg))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, echo := range []echov1.EchoClient{grpcEcho, fastEcho} {
		if _, err := echo.Unary(ctx, &echov1.Message{}); err != nil {
			t.Fatal(err)
		}
		s, err := echo.ServerStream(ctx, &echov1.Message{Count: 1})
		if err != nil {
			t.Fatal(err)
		}
		for err == nil {
			_, err = s.Recv()
		}
	}
	if unary.Load() != 2 || streams.Load() != 2 {
		t.Fatalf("the interceptors saw %d unary calls and %d streams, want 2 and 2 (one per transport)", unary.Load(), streams.Load())
	}
}

func TestGRPCOptionsKeepThePluginOnGRPCAndSayWhy(t *testing.T) {
	log, rec := plugintest.NewLogRecorder()
	s := NewServer(ServeConfig{Logger: log, GRPCOptions: []grpc.ServerOption{grpc.MaxRecvMsgSize(1 << 20)}})
	lis, err := net.Listen("unix", filepath.Join(t.TempDir(), "plugin-1.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	s.offerFast(lis, nil)()
	if s.describe.GetFast() != nil {
		t.Fatal("a plugin with gRPC options offers the fast transport, where they would not apply")
	}
	r, ok := rec.Find("fast transport not offered: the host will use gRPC")
	if !ok || r.Attrs["reason"] == "" {
		t.Fatalf("no log record says why: %+v", rec.All())
	}
}
