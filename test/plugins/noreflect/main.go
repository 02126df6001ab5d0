// Command noreflect is a tether plugin that serves no gRPC server
// reflection, as plugins written in other languages often do: the Echo
// interface (tether.echo.v1.Echo, proto/tether/echo/v1/echo.proto) with
// tether's health, controller and Describe, and every reflection call
// refused as a server without the service refuses it (Unimplemented).
// tether inspect and tether call learn its methods from .proto files or a
// descriptor set instead. A Unary call with text "metadata:KEY" answers
// with the values of request metadata KEY, joined by commas.
//
// ServeConfig has no switch for reflection, which tether.Serve always
// registers, so a stream interceptor stands in for its absence: to the
// client the two are the same.
package main

import (
	"context"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

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

// refuseReflection answers every reflection call as grpc-go answers a
// service it does not serve.
func refuseReflection(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, next grpc.StreamHandler) error {
	if service, ok := strings.CutPrefix(info.FullMethod, "/grpc.reflection."); ok {
		service, _, _ = strings.Cut(service, "/")
		return status.Errorf(codes.Unimplemented, "unknown service grpc.reflection.%s", service)
	}
	return next(srv, ss)
}

func main() {
	tether.Serve(tether.ServeConfig{
		Name: "noreflect",
		Implementations: []tether.Implementation{tether.Implement("echo", 1, func(r grpc.ServiceRegistrar) {
			echov1.RegisterEchoServer(r, echo{})
		})},
		StreamInterceptors: []grpc.StreamServerInterceptor{refuseReflection},
	})
}
