package greeting

import (
	"context"
	"fmt"

	"google.golang.org/grpc"

	"github.com/tetherplug/tether"
	greeterv1 "github.com/tetherplug/tether/examples/greeter/greeterpb/v1"
	greeterv2 "github.com/tetherplug/tether/examples/greeter/greeterpb/v2"
)

// ServerV2 serves version 2 of the greeter interface: Greet as in version 1,
// and Farewell.
type ServerV2 struct {
	greeterv2.UnimplementedGreeterServer
	Hello, Goodbye string // formats receiving the name
}

// Greet answers with the formatted greeting.
func (s *ServerV2) Greet(_ context.Context, req *greeterv2.GreetRequest) (*greeterv2.GreetResponse, error) {
	return &greeterv2.GreetResponse{Message: fmt.Sprintf(s.Hello, req.GetName())}, nil
}

// Farewell answers with the formatted farewell.
func (s *ServerV2) Farewell(_ context.Context, req *greeterv2.FarewellRequest) (*greeterv2.FarewellResponse, error) {
	return &greeterv2.FarewellResponse{Message: fmt.Sprintf(s.Goodbye, req.GetName())}, nil
}

// ServeV1V2 runs a greeter plugin named name that serves versions 1 and 2
// of the greeter interface side by side: old hosts get version 1, new hosts
// version 2.
func ServeV1V2(name, greeting, farewell string) {
	log := tether.Logger()
	v1 := &Server{Format: greeting, Log: log}
	v2 := &ServerV2{Hello: greeting, Goodbye: farewell}
	tether.Serve(tether.ServeConfig{
		Handshake: Handshake,
		Name:      name,
		Logger:    log,
		Implementations: []tether.Implementation{
			tether.Implement("greeter", 1, func(r grpc.ServiceRegistrar) { greeterv1.RegisterGreeterServer(r, v1) }),
			tether.Implement("greeter", 2, func(r grpc.ServiceRegistrar) { greeterv2.RegisterGreeterServer(r, v2) }),
		},
	})
}
