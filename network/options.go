package network

import (
	"crypto/tls"
	"time"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/remote"
)

// schemes are the targets this package's options apply to.
var schemes = []string{"tcp", "unix", "dns"}

// tlsOptions are this package's TLS options and their rules: unix targets
// are plaintext unless given a TLS option, tcp and dns targets require one
// or WithInsecure.
var tlsOptions = remote.Options{Package: "network", Schemes: schemes, PlaintextSchemes: []string{"unix"}}

// config is the settings of one load that are this package's own (the TLS
// options are remote's), as its options set them (tether.RuntimeOption),
// applied in the order given.
type config struct {
	interval time.Duration // re-resolution interval of dns targets
	// connected, if set, is told of every connection attempt to a tcp
	// address (WithConnectObserver).
	connected func(address string, err error)
}

// option is an option of this package's runtimes.
func option(name string, set func(*config)) tether.Option {
	return tether.RuntimeOption("network."+name, set, schemes...)
}

// WithTLSFiles secures the connections with mutual TLS: certFile and keyFile
// are the host's client certificate and its key (PEM), caFile the CA
// certificates (PEM) that signed the plugin's server certificate. The files
// are read when the plugin is opened; one that cannot be is
// tether.ErrHost, named. For tcp, unix and dns targets only.
func WithTLSFiles(certFile, keyFile, caFile string) tether.Option {
	return tlsOptions.WithTLSFiles(certFile, keyFile, caFile)
}

// WithTLSConfig secures the connections with conf (cloned; MinVersion is
// raised to TLS 1.2 if lower; nil is refused). Unless conf sets ServerName
// (or WithServerName does), each address's host is the name the server
// certificate must carry. For tcp, unix and dns targets only.
func WithTLSConfig(conf *tls.Config) tether.Option { return tlsOptions.WithTLSConfig(conf) }

// WithServerName sets the name every instance's server certificate must
// carry, instead of each address's host ("localhost" for a Unix socket).
// For tcp, unix and dns targets only.
func WithServerName(name string) tether.Option { return tlsOptions.WithServerName(name) }

// WithInsecure connects without TLS: anyone on the network path can read
// and change the calls, and any process that can reach the address can
// pose as the plugin. It must be asked for explicitly, and is logged as a
// warning, for tcp and dns targets; unix targets are plaintext by default.
func WithInsecure() tether.Option { return tlsOptions.WithInsecure() }

// WithConnectObserver calls fn after every attempt to connect to one of a
// tcp or dns target's addresses, with the address and the attempt's error
// (nil when the connection was made; the TLS handshake follows): for a
// command that shows why a load is still waiting. fn is called from the
// client's dialling goroutines and must not block. Unix targets are not
// observed: one whose socket is missing or refuses fails at once anyway.
// For tcp, unix and dns targets only.
func WithConnectObserver(fn func(address string, err error)) tether.Option {
	return option("WithConnectObserver", func(c *config) { c.connected = fn })
}
