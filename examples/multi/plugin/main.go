// Command greeter-counter is a plugin serving two interfaces of the greeter
// application: greeter v1 and counter v1. A host dispenses each from the
// same client, over the same connection.
package main

import (
	"context"
	"fmt"
	"sync/atomic"

	"google.golang.org/grpc"

	"github.com/tetherplug/tether"
	greeterv1 "github.com/tetherplug/tether/examples/greeter/greeterpb/v1"
	counterv1 "github.com/tetherplug/tether/examples/multi/counterpb/v1"
	"github.com/tetherplug/tether/examples/multi/shared"
)

type greeter struct {
	greeterv1.UnimplementedGreeterServer
}

func (greeter) Greet(_ context.Context, req *greeterv1.GreetRequest) (*greeterv1.GreetResponse, error) {
	return &greeterv1.GreetResponse{Message: fmt.Sprintf("Hi, %s!", req.GetName())}, nil
}

type counter struct {
	counterv1.UnimplementedCounterServer
	total atomic.Int64
}

func (c *counter) Add(_ context.Context, req *counterv1.AddRequest) (*counterv1.AddResponse, error) {
	return &counterv1.AddResponse{Total: c.total.Add(req.GetDelta())}, nil
}

func main() {
	tether.Serve(tether.ServeConfig{
		Handshake: shared.Handshake,
		Name:      "greeter-counter",
		Implementations: []tether.Implementation{
			tether.Implement("greeter", 1, func(r grpc.ServiceRegistrar) { greeterv1.RegisterGreeterServer(r, greeter{}) }),
			tether.Implement("counter", 1, func(r grpc.ServiceRegistrar) { counterv1.RegisterCounterServer(r, &counter{}) }),
		},
	})
}
