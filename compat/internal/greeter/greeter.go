// Package greeter is the Greeter implementation and handshake that compat's
// go-plugin and tether plugins share. It depends on neither plugin system,
// so each plugin binary links only its own.
package greeter

import (
	"context"

	greeterv1 "github.com/tetherplug/tether/examples/greeter/greeterpb/v1"
)

// The greeter application's handshake, the same as the tether greeter
// example's: magic cookie and application protocol version.
const (
	CookieKey       = "GREETER_PLUGIN"
	CookieValue     = "hello"
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
