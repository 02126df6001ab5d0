// Package tether loads out-of-process plugins over gRPC and calls them as
// local Go values.
//
// A plugin is a separate program that serves one or more versioned gRPC
// interfaces. Its main function calls Serve:
//
//	tether.Serve(tether.ServeConfig{
//		Implementations: []tether.Implementation{
//			tether.Implement("greeter", 1, func(s grpc.ServiceRegistrar) {
//				greeterv1.RegisterGreeterServer(s, english{})
//			}),
//		},
//	})
//
// A host launches it, and dispenses a typed client for an interface:
//
//	client, err := tether.Launch(ctx, "./plugins/greeter-en", tether.WithInterface("greeter", 1))
//	if err != nil { ... }
//	defer client.Close()
//	greeter, err := tether.Dispense(client, "greeter", greeterv1.NewGreeterClient)
//
// The launch handshake is hashicorp/go-plugin's gRPC handshake (magic cookie,
// PLUGIN_PROTOCOL_VERSIONS, the CORE|APP|NETWORK|ADDRESS|PROTOCOL|CERT
// line, the "plugin" health service, the controller and stdio services), so
// go-plugin plugins load in tether hosts and tether plugins in go-plugin
// hosts. On top of it every tether plugin serves tether.v1.Plugin/Describe,
// which tells the host the versions of each interface before the first call.
// docs/protocol.md describes the wire protocol.
package tether
