package tether_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/proto"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/tetherv1"
)

// describeBytes is the Describe answer of a plugin serving echo v1, as a
// runtime that learned it elsewhere (a handshake line) passes it on.
func describeBytes(t *testing.T) []byte {
	t.Helper()
	b, err := proto.Marshal(&tetherv1.DescribeResponse{
		Name: "echo", TetherProtocol: 1, ProtocolVersions: []uint32{1},
		Interfaces: []*tetherv1.Interface{{Name: "echo", Version: 1}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDescribeFromTheEndpointSparesTheCall(t *testing.T) {
	noLeaks(t)
	p := serveEcho(t, 1)
	ep := p.ep
	ep.Describe = describeBytes(t)
	c := openInproc(t, newTestRuntime(ep), tether.WithInterface("echo", 1))

	if _, err := unary(t, echoClient(t, c), "hi"); err != nil {
		t.Fatalf("call: %v", err)
	}
	if n := p.calls.get(describeCall); n != 0 {
		t.Errorf("the client made %d Describe calls, want 0: the endpoint carried the answer", n)
	}
	if !c.Described() || c.ProtocolVersion() != 1 {
		t.Errorf("Described() = %v, ProtocolVersion() = %d; want true, 1", c.Described(), c.ProtocolVersion())
	}
}

func TestDescribeIsCalledWhenTheEndpointHasNoAnswer(t *testing.T) {
	noLeaks(t)
	p := serveEcho(t, 1)
	openInproc(t, newTestRuntime(p.ep), tether.WithInterface("echo", 1))
	if n := p.calls.get(describeCall); n != 1 {
		t.Errorf("the client made %d Describe calls, want 1", n)
	}
}

func TestDescribeBadBytesAreNotAPlugin(t *testing.T) {
	noLeaks(t)
	p := serveEcho(t, 1)
	ep := p.ep
	ep.Describe = []byte{0xff, 0xff, 0xff}
	c, err := tryOpen(t, newTestRuntime(ep))
	if !errors.Is(err, tether.ErrNotPlugin) {
		t.Fatalf("Open = %v, %v; want ErrNotPlugin", c, err)
	}
	if !strings.Contains(err.Error(), "not a tether.v1.DescribeResponse") {
		t.Errorf("error %q does not say the Describe answer is bad", err)
	}
}

// serveHealthOnly serves a plain gRPC server with health only, service
// "plugin" SERVING as go-plugin reports it: a plugin that is no tether
// plugin.
func serveHealthOnly(t *testing.T) tether.Endpoint {
	t.Helper()
	srv := grpc.NewServer()
	hs := health.NewServer()
	hs.SetServingStatus(tether.HealthService, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	lis := listenUnix(t)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return tether.Endpoint{Network: "unix", Address: lis.Addr().String()}
}

func TestDescribeUnservedWithoutProtocolVersionIsNotAPlugin(t *testing.T) {
	noLeaks(t)
	c, err := tryOpen(t, newTestRuntime(serveHealthOnly(t)))
	if !errors.Is(err, tether.ErrNotPlugin) {
		t.Fatalf("Open = %v, %v; want ErrNotPlugin", c, err)
	}
	if !strings.Contains(err.Error(), "serves no tether.v1.Plugin/Describe") {
		t.Errorf("error %q does not say Describe is not served", err)
	}
}

func TestDescribeUnservedWithProtocolVersionIsAGoPlugin(t *testing.T) {
	noLeaks(t)
	ep := serveHealthOnly(t)
	ep.ProtocolVersion = 1
	c := openInproc(t, newTestRuntime(ep))
	if c.Described() {
		t.Error("Described() = true for a plugin without Describe")
	}
	if v := c.ProtocolVersion(); v != 1 {
		t.Errorf("ProtocolVersion() = %d, want the runtime's 1", v)
	}
	if err := c.Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

func TestDescribeNoSharedProtocolVersion(t *testing.T) {
	noLeaks(t)
	p := servePlugin(t, tether.ServeConfig{ProtocolVersions: []int{3, 4}, Implementations: echoImpls(1)})
	c, err := tryOpen(t, newTestRuntime(p.ep), tether.WithProtocolVersions(1, 2))
	var ve *tether.VersionError
	if !errors.As(err, &ve) {
		t.Fatalf("Open = %v, %v; want a *VersionError", c, err)
	}
	plugin := slices.Sorted(slices.Values(ve.PluginVersions))
	if ve.Interface != "" || !slices.Equal(ve.HostVersions, []int{1, 2}) || !slices.Equal(plugin, []int{3, 4}) {
		t.Errorf("VersionError %+v: want the protocol versions, the host's 1 2 against the plugin's 3 4", ve)
	}
	if !errors.Is(err, tether.ErrIncompatibleVersion) {
		t.Errorf("error %v is not ErrIncompatibleVersion", err)
	}
}
