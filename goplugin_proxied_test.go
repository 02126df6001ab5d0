package tether_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/pb/tetherv1"
	"github.com/tetherplug/tether/internal/plugintest"
	_ "github.com/tetherplug/tether/network" // registers unix://
)

// proxiedGoPlugin is what a network host sees of a go-plugin plugin behind
// tether serve: a Describe answered for it with FeatureGoPlugin and the
// handshake's protocol version, its own services, and refusals of the
// launching host's services. It records every other method called.
type proxiedGoPlugin struct {
	tetherv1.UnimplementedPluginServer
	version uint32
	mu      sync.Mutex
	others  []string
}

func (p *proxiedGoPlugin) Describe(context.Context, *tetherv1.DescribeRequest) (*tetherv1.DescribeResponse, error) {
	return &tetherv1.DescribeResponse{ProtocolVersions: []uint32{p.version}, TetherProtocol: 1,
		Features: []string{tether.FeatureGoPlugin}}, nil
}

func (p *proxiedGoPlugin) refuse(_ any, s grpc.ServerStream) error {
	m, _ := grpc.MethodFromServerStream(s)
	p.mu.Lock()
	p.others = append(p.others, m)
	p.mu.Unlock()
	return status.Error(codes.PermissionDenied, "only the launching host may call "+m)
}

func (p *proxiedGoPlugin) called() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.others...)
}

// serveProxiedGoPlugin serves p on a Unix socket and returns its target.
func serveProxiedGoPlugin(t *testing.T, p *proxiedGoPlugin) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "tether-gpp-")
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("unix", filepath.Join(dir, "p.sock"))
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.UnknownServiceHandler(p.refuse))
	tetherv1.RegisterPluginServer(srv, p)
	echov1.RegisterEchoServer(srv, plugintest.EchoServer{})
	healthpb.RegisterHealthServer(srv, health.NewServer()) // tether serve passes the plugin's own
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	plugintest.Serve(t, "the fake plugin", lis, srv)
	return "unix://" + lis.Addr().String()
}

// TestProxiedGoPluginIsAGoPlugin: an instance whose Describe answer has
// FeatureGoPlugin is taken as a go-plugin plugin of that protocol version:
// every interface asked for is at that version, Described is false, calls
// work, and the host opens no stdio stream to it.
func TestProxiedGoPluginIsAGoPlugin(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	p := &proxiedGoPlugin{version: 3}
	target := serveProxiedGoPlugin(t, p)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := tether.Open(ctx, target, tether.WithProtocolVersions(2, 3), tether.WithInterface("echo", 1, 3),
		tether.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer c.Close()
	if c.Described() || c.ProtocolVersion() != 3 {
		t.Errorf("Described %t, protocol %d; want a go-plugin plugin of protocol 3", c.Described(), c.ProtocolVersion())
	}
	if v, ok := c.Version("echo"); !ok || v != 3 {
		t.Errorf("echo at version %d (%t), want 3: the protocol version stands for every interface", v, ok)
	}
	if m, err := echov1.NewEchoClient(c.Conn()).Unary(ctx, &echov1.Message{Text: "hi"}); err != nil || m.GetText() != "hi" {
		t.Errorf("call: %v, %v", m, err)
	}
	// The stdio stream, if the host opened it, would be opened right
	// after admission: a second call's round trip is after it.
	if _, err := echov1.NewEchoClient(c.Conn()).Unary(ctx, &echov1.Message{Text: "again"}); err != nil {
		t.Fatal(err)
	}
	if got := p.called(); len(got) != 0 {
		t.Errorf("the host called %v through the proxy; want nothing but Describe and the calls", got)
	}
}

// TestProxiedGoPluginRefusals: a host whose protocol versions do not
// include the handshake's fails with a VersionError; a host with callbacks
// gets ErrNotImplemented, as with a go-plugin plugin it launched.
func TestProxiedGoPluginRefusals(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	target := serveProxiedGoPlugin(t, &proxiedGoPlugin{version: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	quiet := tether.WithLogger(slog.New(slog.DiscardHandler))
	_, err := tether.Open(ctx, target, tether.WithProtocolVersions(1, 2), tether.WithInterface("echo", 1), quiet)
	var ve *tether.VersionError
	if !errors.As(err, &ve) || ve.Interface != "" {
		t.Errorf("Open offering protocols 1, 2 to a plugin of 3: %v, want a protocol VersionError", err)
	}
	_, err = tether.Open(ctx, target, tether.WithProtocolVersions(3), tether.WithInterface("echo", 3), quiet,
		tether.WithCallbacks(func(grpc.ServiceRegistrar) {}))
	if !errors.Is(err, tether.ErrNotImplemented) {
		t.Errorf("Open with callbacks: %v, want ErrNotImplemented", err)
	}
}
