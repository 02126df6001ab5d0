package tether

import (
	"errors"
	"log/slog"
	"net"
	"os"
)

// launchListener listens on a loopback TCP port, as go-plugin plugins do
// on Windows: tether hosts turn automatic mutual TLS on by default there
// (EnvClientCert), so that no other local user's program can call the
// plugin. Without it the plugin still serves, for go-plugin hosts, and
// warns.
func launchListener(log *slog.Logger) (net.Listener, func(), error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	if os.Getenv(EnvClientCert) == "" {
		log.Warn("serving on loopback TCP without TLS: any local program can call this plugin; the host should turn on automatic mutual TLS",
			"address", lis.Addr().String())
	}
	return lis, func() { _ = lis.Close() }, nil
}

// hostPipeFile refuses: Windows hosts pass no host pipe, their Job Object
// ends the plugin with them.
func hostPipeFile(string) (*os.File, error) {
	return nil, errors.New("no host pipe on Windows: the host's Job Object ends the plugin with it")
}

// fastListener refuses: the fast transport runs on Unix sockets, and a
// Windows plugin listens on loopback TCP; its host uses gRPC.
func fastListener(net.Listener) (net.Listener, string, func(), error) {
	return nil, "", nil, errors.New("the fast transport needs a Unix socket; on Windows plugins serve gRPC on loopback TCP")
}
