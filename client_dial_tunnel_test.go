package tether_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/credentials"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
)

// TestEndpointDialTunnels: an endpoint with a Dial of its own is reached
// only through it (its Network and Address name it and are never dialled),
// and the endpoint's mutual TLS runs over the connection Dial returns, as
// the kube runtime's port-forward needs.
func TestEndpointDialTunnels(t *testing.T) {
	t.Parallel()
	k := newNetPKI(t)
	p := startNetEcho(t, true, k.env()...)
	var dials atomic.Int32
	ep := tether.Endpoint{Network: "tunnel", Address: "instance-1", Creds: credentials.NewTLS(k.clientTLS(true)),
		ServerName: "localhost", HealthChecked: true,
		Dial: func(ctx context.Context) (net.Conn, error) {
			dials.Add(1)
			var d net.Dialer
			return d.DialContext(ctx, "tcp", p.addr)
		}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := tether.Open(ctx, "endpoints://tunnel", tether.WithRuntime(endpointsBuilder{[]tether.Endpoint{ep}}),
		tether.WithInterface("echo", 1))
	if err != nil {
		t.Fatalf("Open through the endpoint's Dial: %v", err)
	}
	defer c.Close()
	if _, err := echov1.NewEchoClient(c.Conn()).Unary(ctx, &echov1.Message{}); err != nil {
		t.Errorf("call through the endpoint's Dial: %v", err)
	}
	if n := dials.Load(); n == 0 {
		t.Error("the endpoint's Dial was never called")
	}
	is := c.Instances()
	if len(is) != 1 || is[0].Network != "tunnel" || is[0].Address != "instance-1" || !is[0].Admitted {
		t.Errorf("Instances() = %+v, want the admitted tunnel instance-1", is)
	}
}
