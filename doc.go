// Package tether loads out-of-process plugins over gRPC and calls them as
// local Go values.
//
// A plugin is a separate program that serves one or more versioned gRPC
// interfaces. Its main function calls Serve:
//
//	tether.Serve(tether.ServeConfig{
//		Handshake: shared.Handshake, // a HandshakeConfig in a package both sides import
//		Implementations: []tether.Implementation{
//			tether.Implement("greeter", 1, func(s grpc.ServiceRegistrar) {
//				greeterv1.RegisterGreeterServer(s, english{})
//			}),
//		},
//	})
//
// A host opens it by a target, and dispenses a typed client for an
// interface:
//
//	client, err := tether.Open(ctx, target, tether.WithHandshake(shared.Handshake),
//		tether.WithInterface("greeter", 1))
//	if err != nil { ... } // typed: errors.Is(err, tether.ErrNotPlugin), ErrIncompatibleVersion, ...
//	defer client.Close()
//	greeter, err := tether.Dispense(client, "greeter", greeterv1.NewGreeterClient)
//
// # Targets and runtimes
//
// Where a plugin runs is the target's business, not the host's code. The
// target's scheme picks a runtime, which starts or finds the plugin's
// instances and reports the endpoints they answer on:
//
//   - a path or exec:///abs/path: the exec runtime, built in, launches the
//     program as a local process and supervises it (Launch is Open of a
//     path; the exec options WithArgs, WithEnv, WithRestart... apply);
//   - tcp://h:p[,h2:p], unix:///path, dns:///name:port: package network,
//     plugins served on the network with mutual TLS;
//   - kube://namespace/name: package kube, a Deployment and Service;
//   - run://name: package daemon, an instance the tether run daemon keeps.
//
// Runtimes register by scheme with RegisterRuntime (importing their package
// is enough), or are given to one Open with WithRuntime. Everything past
// the endpoints (Describe and version negotiation, balancing over
// instances, callbacks, typed errors) is the Client's, the same for every
// runtime. An option of one runtime given for another's target fails Open
// with ErrBadTarget naming the option.
//
// # Wire protocol
//
// The launch handshake is hashicorp/go-plugin's gRPC handshake (magic cookie,
// PLUGIN_PROTOCOL_VERSIONS, the CORE|APP|NETWORK|ADDRESS|PROTOCOL|CERT
// line, the "plugin" health service, the controller and stdio services), so
// go-plugin plugins load in tether hosts and tether plugins in go-plugin
// hosts. On top of it every tether plugin serves tether.v1.Plugin/Describe,
// which tells the host the versions of each interface before the first call.
// docs/protocol.md describes the wire protocol; protocol.go lists its
// constants.
package tether
