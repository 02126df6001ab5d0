// Command plugin is a greeter plugin of an application outside the tether
// repository.
package main

import (
	"context"

	"google.golang.org/grpc"

	"github.com/tetherplug/tether"
	greeterv1 "github.com/tetherplug/tether/examples/greeter/greeterpb/v1"

	"example.com/app/handshake"
)

type english struct {
	greeterv1.UnimplementedGreeterServer
}

func (english) Greet(_ context.Context, r *greeterv1.GreetRequest) (*greeterv1.GreetResponse, error) {
	return &greeterv1.GreetResponse{Message: "Hello, " + r.GetName() + "!"}, nil
}

func main() {
	tether.Serve(tether.ServeConfig{
		Handshake: handshake.Config,
		Name:      "greeter-en",
		Implementations: []tether.Implementation{
			tether.Implement("greeter", 1, func(r grpc.ServiceRegistrar) {
				greeterv1.RegisterGreeterServer(r, english{})
			}),
		},
	})
}
