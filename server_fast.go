package tether

import (
	"crypto/tls"
	"net"

	"google.golang.org/grpc"

	"github.com/tetherplug/tether/internal/fastrpc"
	"github.com/tetherplug/tether/internal/goplugin"
	"github.com/tetherplug/tether/internal/pb/tetherv1"
)

// newFastServer builds the plugin's server for the fast local transport,
// with the config's interceptors; nil, and why, when the plugin cannot
// offer it: gRPC server options apply to gRPC only and cannot be read
// back, so a plugin given some keeps every call on gRPC, where they apply.
func newFastServer(cfg ServeConfig, tr *tracing) (*fastrpc.Server, string) {
	if len(cfg.GRPCOptions) > 0 {
		return nil, "ServeConfig.GRPCOptions apply to gRPC only (ServeConfig.UnaryInterceptors and StreamInterceptors apply to both transports)"
	}
	return fastrpc.NewServer(append(tr.fastServerOptions(), fastrpc.WithUnaryInterceptors(cfg.UnaryInterceptors...),
		fastrpc.WithStreamInterceptors(cfg.StreamInterceptors...))...), ""
}

// offerFast serves the fast transport on a socket beside grpcLis, over TLS
// when conf is set (automatic mutual TLS: the same certificates as gRPC),
// and names it in the Describe answer. It must run before the server
// serves, since it changes the Describe answer. The returned cleanup
// removes the socket; when the fast transport cannot be offered it logs
// why, and hosts use gRPC.
func (s *Server) offerFast(grpcLis net.Listener, conf *tls.Config) (cleanup func()) {
	if s.fast == nil {
		s.log.Info("fast transport not offered: the host will use gRPC", "reason", s.noFast)
		return func() {}
	}
	if grpcLis.Addr().Network() != "unix" {
		// Windows: loopback TCP, where gRPC is what hosts use.
		s.log.Debug("fast transport not offered: it runs on Unix sockets", "network", grpcLis.Addr().Network())
		return func() {}
	}
	lis, path, cleanup, err := fastListener(grpcLis)
	if err != nil {
		s.log.Warn("fast transport not offered: the host will use gRPC", "error", err)
		return func() {}
	}
	if conf != nil {
		// gRPC's TLS credentials, which the host's handshake goes through,
		// insist on ALPN "h2": the same handshake as the gRPC socket's.
		conf = conf.Clone()
		conf.NextProtos = []string{"h2"}
		lis = tls.NewListener(lis, conf)
	}
	s.describe.Fast = &tetherv1.FastTransport{Network: "unix", Address: path, Version: fastrpc.Version, Tls: conf != nil}
	go func() { _ = s.fast.Serve(lis) }()
	return cleanup
}

// grpcOnlyServices are the services NewServer registers on gRPC alone: what
// only a host's gRPC connection uses (go-plugin's stdio stream, the
// callback tunnels) and server reflection. Hosts send their calls over gRPC.
var grpcOnlyServices = []string{goplugin.StdioService, tetherv1.Callbacks_ServiceDesc.ServiceName,
	"grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"}

// registrars registers every service on each of its registrars: the
// plugin's gRPC server and its fast transport's.
type registrars []grpc.ServiceRegistrar

func (rs registrars) RegisterService(sd *grpc.ServiceDesc, impl any) {
	for _, r := range rs {
		r.RegisterService(sd, impl)
	}
}
