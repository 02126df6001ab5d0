// Command goplugingreeter is a hashicorp/go-plugin gRPC plugin serving the
// Greeter interface, for comparisons and interoperability tests with tether.
// It does not link tether.
package main

import (
	"github.com/hashicorp/go-plugin"

	"github.com/tetherplug/tether/compat"
	"github.com/tetherplug/tether/compat/internal/greeter"
)

func main() {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: compat.Handshake,
		Plugins:         plugin.PluginSet{"greeter": &compat.GreeterPlugin{Impl: greeter.Server{}}},
		GRPCServer:      plugin.DefaultGRPCServer,
	})
}
