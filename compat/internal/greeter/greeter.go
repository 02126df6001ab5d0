// Package greeter is the Greeter implementation and handshake that compat's
// go-plugin and tether plugins share. It depends on neither plugin system,
// so each plugin binary links only its own.
package greeter

import (
	"context"

	greeterv1 "github.com/tetherplug/tether/examples/greeter/greeterpb/v1"
)

// The greeter application's handshake, the same as the tether greeter
// example's: tether's default magic cookie (tether.DefaultMagicCookieKey and
// DefaultMagicCookieValue, spelled out so that the go-plugin plugin does not
// link tether) and application protocol version 1.
const (
	CookieKey       = "TETHER_PLUGIN_MAGIC_COOKIE"
	CookieValue     = "d5e9a0c1f4b7tether"
	ProtocolVersion = 1
)

// Server answers every Greet with "Hello, NAME!".
type Server struct {
	greeterv1.UnimplementedGreeterServer
}

// Greet greets req's name.
func (Server) Greet(_ context.Context, req *greeterv1.GreetRequest) (*greeterv1.GreetResponse, error) {
	return &greeterv1.GreetResponse{Message: "Hello, " + req.GetName() + "!"}, nil
}
