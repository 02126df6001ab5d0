// Command noreflect is a tether plugin that serves no gRPC server
// reflection, as plugins written in other languages often do: the Echo
// interface (tether.echo.v1.Echo, proto/tether/echo/v1/echo.proto) with
// tether's health, controller and Describe, and no reflection
// (ServeConfig.NoReflection). tether inspect and tether call learn its
// methods from .proto files or a descriptor set instead. A Unary call with
// text "metadata:KEY" answers with the values of request metadata KEY,
// joined by commas.
package main

import (
	"context"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/plugintest"
)

// echo is the Echo service, and answers "metadata:KEY" with KEY's values.
type echo struct{ plugintest.EchoServer }

func (e echo) Unary(ctx context.Context, m *echov1.Message) (*echov1.Message, error) {
	if key, ok := strings.CutPrefix(m.GetText(), "metadata:"); ok {
		md, _ := metadata.FromIncomingContext(ctx)
		return &echov1.Message{Text: strings.Join(md.Get(key), ",")}, nil
	}
	return e.EchoServer.Unary(ctx, m)
}

func main() {
	tether.Serve(tether.ServeConfig{
		Name: "noreflect",
		Implementations: []tether.Implementation{tether.Implement("echo", 1, func(r grpc.ServiceRegistrar) {
			echov1.RegisterEchoServer(r, echo{})
		})},
		NoReflection: true,
	})
}
