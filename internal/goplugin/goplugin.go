// Package goplugin serves and calls hashicorp/go-plugin's controller and
// stdio services (plugin.GRPCController and plugin.GRPCStdio) without
// registering go-plugin's proto names in the global protobuf registries.
//
// go-plugin links generated code for these services into every program that
// imports it, and the protobuf runtime refuses two registrations of one
// name. So tether does not generate code for go-plugin's proto files: the
// services are described here by hand-written grpc.ServiceDesc values under
// go-plugin's service names, carrying tether's own messages
// (tether.v1.ControllerEmpty, tether.v1.StdioData and google.protobuf.Empty),
// which encode exactly as go-plugin's plugin.Empty and plugin.StdioData. For
// server reflection, descriptors of go-plugin's files are kept in a private
// registry (see RegisterReflection).
package goplugin

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/tetherplug/tether/internal/pb/tetherv1"
)

// Service names and the proto files that define them, as go-plugin's
// clients and servers know them.
const (
	ControllerService = "plugin.GRPCController"
	StdioService      = "plugin.GRPCStdio"
	ControllerFile    = "plugin/grpc_controller.proto"
	StdioFile         = "plugin/grpc_stdio.proto"
)

// Full method names, as they appear in gRPC requests.
const (
	ShutdownMethod    = "/" + ControllerService + "/Shutdown"
	StreamStdioMethod = "/" + StdioService + "/StreamStdio"
)

// ControllerServer is the plugin side of plugin.GRPCController.
type ControllerServer interface {
	// Shutdown asks the plugin to stop serving and exit.
	Shutdown(context.Context, *tetherv1.ControllerEmpty) (*tetherv1.ControllerEmpty, error)
}

// StdioServer is the plugin side of plugin.GRPCStdio.
type StdioServer interface {
	// StreamStdio sends chunks of the plugin program's stdout and stderr.
	StreamStdio(*emptypb.Empty, grpc.ServerStreamingServer[tetherv1.StdioData]) error
}

// ControllerDesc describes plugin.GRPCController for grpc.ServiceRegistrar.
var ControllerDesc = grpc.ServiceDesc{
	ServiceName: ControllerService,
	HandlerType: (*ControllerServer)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Shutdown",
		Handler:    shutdownHandler,
	}},
	Metadata: ControllerFile,
}

// StdioDesc describes plugin.GRPCStdio for grpc.ServiceRegistrar.
var StdioDesc = grpc.ServiceDesc{
	ServiceName: StdioService,
	HandlerType: (*StdioServer)(nil),
	Streams: []grpc.StreamDesc{{
		StreamName:    "StreamStdio",
		Handler:       streamStdioHandler,
		ServerStreams: true,
	}},
	Metadata: StdioFile,
}

// RegisterController registers srv as plugin.GRPCController on r.
func RegisterController(r grpc.ServiceRegistrar, srv ControllerServer) {
	r.RegisterService(&ControllerDesc, srv)
}

// RegisterStdio registers srv as plugin.GRPCStdio on r.
func RegisterStdio(r grpc.ServiceRegistrar, srv StdioServer) {
	r.RegisterService(&StdioDesc, srv)
}

func shutdownHandler(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
	in := new(tetherv1.ControllerEmpty)
	if err := dec(in); err != nil {
		return nil, err
	}
	if interceptor == nil {
		return srv.(ControllerServer).Shutdown(ctx, in)
	}
	info := &grpc.UnaryServerInfo{Server: srv, FullMethod: ShutdownMethod}
	handler := func(ctx context.Context, req any) (any, error) {
		return srv.(ControllerServer).Shutdown(ctx, req.(*tetherv1.ControllerEmpty))
	}
	return interceptor(ctx, in, info, handler)
}

func streamStdioHandler(srv any, stream grpc.ServerStream) error {
	in := new(emptypb.Empty)
	if err := stream.RecvMsg(in); err != nil {
		return err
	}
	return srv.(StdioServer).StreamStdio(in, &grpc.GenericServerStream[emptypb.Empty, tetherv1.StdioData]{ServerStream: stream})
}

// Shutdown calls plugin.GRPCController/Shutdown on cc: it asks a plugin,
// tether's or go-plugin's, to stop gracefully and exit.
func Shutdown(ctx context.Context, cc grpc.ClientConnInterface, opts ...grpc.CallOption) error {
	return cc.Invoke(ctx, ShutdownMethod, &tetherv1.ControllerEmpty{}, &tetherv1.ControllerEmpty{}, opts...)
}

// StreamStdio calls plugin.GRPCStdio/StreamStdio on cc and returns the
// stream of the plugin program's output chunks. Cancel ctx to end it early.
func StreamStdio(ctx context.Context, cc grpc.ClientConnInterface, opts ...grpc.CallOption) (grpc.ServerStreamingClient[tetherv1.StdioData], error) {
	stream, err := cc.NewStream(ctx, &StdioDesc.Streams[0], StreamStdioMethod, opts...)
	if err != nil {
		return nil, err
	}
	if err := stream.SendMsg(&emptypb.Empty{}); err != nil {
		return nil, err
	}
	if err := stream.CloseSend(); err != nil {
		return nil, err
	}
	return &grpc.GenericClientStream[emptypb.Empty, tetherv1.StdioData]{ClientStream: stream}, nil
}
