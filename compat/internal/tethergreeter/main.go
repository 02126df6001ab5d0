// Command tethergreeter is a tether plugin serving the Greeter interface with
// the same implementation and handshake as goplugingreeter. It does not link
// go-plugin.
package main

import (
	"google.golang.org/grpc"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/compat/internal/greeter"
	greeterv1 "github.com/tetherplug/tether/examples/greeter/greeterpb/v1"
)

func main() {
	tether.Serve(tether.ServeConfig{
		Handshake: tether.HandshakeConfig{
			ProtocolVersion:  greeter.ProtocolVersion,
			MagicCookieKey:   greeter.CookieKey,
			MagicCookieValue: greeter.CookieValue,
		},
		Name: "greeter",
		Implementations: []tether.Implementation{
			tether.Implement("greeter", 1, func(r grpc.ServiceRegistrar) {
				greeterv1.RegisterGreeterServer(r, greeter.Server{})
			}),
		},
	})
}
