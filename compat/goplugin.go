package compat

import (
	"context"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/tetherplug/tether/compat/internal/greeter"
	greeterv1 "github.com/tetherplug/tether/examples/greeter/greeterpb/v1"
)

// Handshake is the greeter application's handshake in go-plugin's terms.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  greeter.ProtocolVersion,
	MagicCookieKey:   greeter.CookieKey,
	MagicCookieValue: greeter.CookieValue,
}

// GreeterPlugin is the go-plugin Plugin for the Greeter interface, gRPC
// only. On the plugin side it registers Impl; on the host side Dispense
// returns a greeterv1.GreeterClient.
type GreeterPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl greeterv1.GreeterServer
}

var _ plugin.GRPCPlugin = (*GreeterPlugin)(nil)

// GRPCServer registers the Greeter service.
func (p *GreeterPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	greeterv1.RegisterGreeterServer(s, p.Impl)
	return nil
}

// GRPCClient returns a Greeter client over the plugin's connection.
func (p *GreeterPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return greeterv1.NewGreeterClient(c), nil
}
