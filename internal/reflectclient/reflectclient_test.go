package reflectclient_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	v1alphapb "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"

	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/plugintest"
	"github.com/tetherplug/tether/internal/reflectclient"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// serve starts a gRPC server on loopback with the echo and health services
// and whatever reflection setup wants, and returns a connection to it.
func serve(t *testing.T, setup func(*grpc.Server)) *grpc.ClientConn {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	echov1.RegisterEchoServer(srv, plugintest.EchoServer{})
	healthpb.RegisterHealthServer(srv, health.NewServer())
	setup(srv)
	go func() { _ = srv.Serve(lis) }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		srv.Stop()
	})
	return conn
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestServicesAndDescriptors(t *testing.T) {
	conn := serve(t, func(s *grpc.Server) { reflection.Register(s) })
	rc, err := reflectclient.New(ctx(t), conn)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got := rc.Services()
	for _, want := range []string{"tether.echo.v1.Echo", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"} {
		if !slices.Contains(got, want) {
			t.Errorf("Services() = %v, missing %s", got, want)
		}
	}
	if !slices.IsSorted(got) {
		t.Errorf("Services() not sorted: %v", got)
	}

	sd, err := rc.Service("tether.echo.v1.Echo")
	if err != nil {
		t.Fatal(err)
	}
	bidi := sd.Methods().ByName("Bidi")
	if bidi == nil || !bidi.IsStreamingClient() || !bidi.IsStreamingServer() {
		t.Fatalf("Bidi method = %v, want a bidirectional streaming method", bidi)
	}
	if got := bidi.Input().FullName(); got != "tether.echo.v1.Message" {
		t.Errorf("Bidi input = %s", got)
	}
	if f := bidi.Input().Fields().ByName("delay_ms"); f == nil {
		t.Error("Message descriptor lacks field delay_ms")
	}
	// Asking again is answered from what was fetched, and the health
	// service resolves on the same stream.
	if _, err := rc.Service("tether.echo.v1.Echo"); err != nil {
		t.Fatal(err)
	}
	hd, err := rc.Service("grpc.health.v1.Health")
	if err != nil {
		t.Fatal(err)
	}
	if hd.Methods().ByName("Watch") == nil {
		t.Error("health service lacks Watch")
	}
	if _, err := rc.Types().FindMessageByName("tether.echo.v1.Message"); err != nil {
		t.Errorf("Types() does not resolve the echo message: %v", err)
	}
}

func TestUnknownService(t *testing.T) {
	conn := serve(t, func(s *grpc.Server) { reflection.Register(s) })
	rc, err := reflectclient.New(ctx(t), conn)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := rc.Service("no.such.Service"); err == nil {
		t.Fatal("Service of an unknown name succeeded")
	}
	if _, err := rc.Service("tether.echo.v1.Message"); err == nil {
		t.Fatal("Service of a message name succeeded")
	}
	// The stream still works after errors.
	if _, err := rc.Service("tether.echo.v1.Echo"); err != nil {
		t.Fatal(err)
	}
}

func TestV1AlphaOnlyServer(t *testing.T) {
	conn := serve(t, func(s *grpc.Server) {
		v1alphapb.RegisterServerReflectionServer(s, reflection.NewServer(reflection.ServerOptions{Services: s}))
	})
	rc, err := reflectclient.New(ctx(t), conn)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := rc.Service("tether.echo.v1.Echo"); err != nil {
		t.Fatal(err)
	}
}

func TestNoReflection(t *testing.T) {
	conn := serve(t, func(*grpc.Server) {})
	_, err := reflectclient.New(ctx(t), conn)
	if !errors.Is(err, reflectclient.ErrNoReflection) {
		t.Fatalf("New on a server without reflection: %v, want ErrNoReflection", err)
	}
}

// TestSymbol: Symbol finds a message, a method and an enum by full name,
// and says ErrUnknownSymbol of a name the server does not know.
func TestSymbol(t *testing.T) {
	conn := serve(t, func(s *grpc.Server) { reflection.Register(s) })
	rc, err := reflectclient.New(ctx(t), conn)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	for name, want := range map[string]string{
		"tether.echo.v1.Message":                           "*filedesc.Message",
		"tether.echo.v1.Echo.Unary":                        "*filedesc.Method",
		"grpc.health.v1.HealthCheckResponse.ServingStatus": "*filedesc.Enum",
	} {
		d, err := rc.Symbol(name)
		if err != nil {
			t.Errorf("Symbol(%s): %v", name, err)
			continue
		}
		if got := fmt.Sprintf("%T", d); got != want || string(d.FullName()) != name {
			t.Errorf("Symbol(%s) = %s %s, want %s", name, got, d.FullName(), want)
		}
	}
	if _, err := rc.Symbol("no.such.Thing"); !errors.Is(err, reflectclient.ErrUnknownSymbol) {
		t.Errorf("Symbol(no.such.Thing): %v, want ErrUnknownSymbol", err)
	}
	if _, err := rc.Service("tether.echo.v1.Message"); err == nil {
		t.Error("Service of a message succeeded")
	}
}
