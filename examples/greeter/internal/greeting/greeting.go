// Package greeting is the code the two example greeter plugins share: a
// Greeter server that greets with a given phrase, and the handshake the
// greeter host and its plugins agree on.
package greeting

import (
	"context"
	"fmt"
	"log/slog"

	"google.golang.org/grpc"

	"github.com/tetherplug/tether"
	greeterv1 "github.com/tetherplug/tether/examples/greeter/greeterpb/v1"
)

// Handshake is the greeter application's handshake: protocol version 1 and
// tether's default magic cookie, so that the tether CLI loads the example
// plugins without flags. A real application picks a cookie of its own (and
// passes it to the CLI with --cookie KEY=VALUE).
var Handshake = tether.HandshakeConfig{ProtocolVersion: 1}

// Server greets in one language: Format receives the name.
type Server struct {
	greeterv1.UnimplementedGreeterServer
	Format string
	Log    *slog.Logger
}

// Greet answers with the formatted greeting.
func (s *Server) Greet(_ context.Context, req *greeterv1.GreetRequest) (*greeterv1.GreetResponse, error) {
	s.Log.Debug("greeting", "name", req.GetName())
	return &greeterv1.GreetResponse{Message: fmt.Sprintf(s.Format, req.GetName())}, nil
}

// Serve runs a greeter plugin named name that greets with format.
func Serve(name, format string) {
	log := tether.Logger()
	srv := &Server{Format: format, Log: log}
	tether.Serve(tether.ServeConfig{
		Handshake: Handshake,
		Name:      name,
		Logger:    log,
		Implementations: []tether.Implementation{
			tether.Implement("greeter", 1, func(r grpc.ServiceRegistrar) { greeterv1.RegisterGreeterServer(r, srv) }),
		},
	})
}
