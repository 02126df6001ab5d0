package tether_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/plugintest"
)

// serveRelay serves, in the test process, a plugin whose Echo calls the
// host's Echo back through host.
func serveRelay(t *testing.T, host *tether.HostConn) *inprocPlugin {
	t.Helper()
	relay := plugintest.Relay{Host: echov1.NewEchoClient(host), Log: quiet()}
	return servePlugin(t, tether.ServeConfig{Name: "relay", Host: host,
		Implementations: []tether.Implementation{tether.Implement("echo", 1, func(r grpc.ServiceRegistrar) {
			echov1.RegisterEchoServer(r, relay)
		})}})
}

func TestHostConnZeroValueCarriesCallbacks(t *testing.T) {
	noLeaks(t)
	var host tether.HostConn // the zero value, not NewHostConn
	p := serveRelay(t, &host)
	c := openInproc(t, newTestRuntime(p.ep), tether.WithInterface("echo", 1),
		tether.WithCallbacks(func(r grpc.ServiceRegistrar) {
			echov1.RegisterEchoServer(r, plugintest.TaggedEcho{Tag: "host"})
		}))

	got, err := unary(t, echoClient(t, c), "x")
	if err != nil {
		t.Fatalf("call through a zero HostConn: %v", err)
	}
	if got.GetText() != "plugin:host:x" {
		t.Errorf("answer %q, want %q: the plugin's callback did not reach the host", got.GetText(), "plugin:host:x")
	}
}

func TestHostConnZeroValueWithoutHostFailsUnavailable(t *testing.T) {
	noLeaks(t)
	var host tether.HostConn
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := echov1.NewEchoClient(&host).Unary(ctx, &echov1.Message{Text: "nobody"})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("callback with no host connected: %v, want codes.Unavailable once its deadline passed", err)
	}
}
