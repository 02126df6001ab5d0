// Package shared is the greeter interface as go-plugin sees it: a
// plugin.GRPCPlugin over tether's public greeter protobuf package, and the
// greeter application's handshake in go-plugin's terms.
package shared

import (
	"context"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	greeterv1 "github.com/tetherplug/tether/examples/greeter/greeterpb/v1"
)

// Handshake is the greeter application's handshake, the same as tether's
// examples/greeter: protocol version 1 and tether's default magic cookie
// (tether.DefaultMagicCookieKey and Value, written out because a go-plugin
// program cannot link tether; see docs/go-plugin.md).
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "TETHER_PLUGIN_MAGIC_COOKIE",
	MagicCookieValue: "d5e9a0c1f4b7tether",
}

// GreeterPlugin serves greeter v1 in a go-plugin plugin (Impl set) and
// dispenses a greeter v1 client in a go-plugin host.
type GreeterPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl greeterv1.GreeterServer
}

// GRPCServer registers the greeter service.
func (p *GreeterPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	greeterv1.RegisterGreeterServer(s, p.Impl)
	return nil
}

// GRPCClient returns a greeterv1.GreeterClient on the plugin's connection.
func (p *GreeterPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return greeterv1.NewGreeterClient(c), nil
}

// Plugins is the plugin map of the greeter application.
func Plugins(impl greeterv1.GreeterServer) map[string]plugin.Plugin {
	return map[string]plugin.Plugin{"greeter": &GreeterPlugin{Impl: impl}}
}
