// Package remote is what tether's runtimes for plugins reached over the
// network share: the client side of TLS (its options, their rules, the
// certificate files, the credentials of each endpoint) and the keepalive
// and reconnection backoff of the connections. The network runtime (tcp,
// unix and dns targets) and the kube runtime (pods) are built on it.
//
// It is a public package, not an internal one, so that a runtime of
// another module whose instances are remote (a service registry, another
// orchestrator) offers the same TLS options, with the same rules and
// messages, and the same dial defaults as tether's own. Such a runtime
// declares its options once:
//
//	var tlsOpts = remote.Options{Package: "nomad", Schemes: []string{"nomad"}}
//
//	// WithTLSFiles secures the connections with mutual TLS. For nomad targets only.
//	func WithTLSFiles(cert, key, ca string) tether.Option { return tlsOpts.WithTLSFiles(cert, key, ca) }
//
// then, in its RuntimeBuilder's Build, turns what the host gave into a
// Transport and its instances' addresses into endpoints:
//
//	tr, err := tlsOpts.Transport(t, env)
//	if err != nil {
//		return nil, err
//	}
//	env.Endpoints.UpdateEndpoints([]tether.Endpoint{tr.Endpoint("tcp", "10.0.0.7:7000", "10.0.0.7")})
//
// and implements tether.RuntimeDialOptions with DialOptions.
//
// The package sits beside the runtimes: it imports the root package, which
// never imports it.
package remote

import (
	"crypto/tls"
	"slices"

	"github.com/tetherplug/tether"
)

// Options are the TLS options of one runtime package, and the rules that
// turn them into a Transport. The zero value is not useful: give Package
// and Schemes.
type Options struct {
	// Package names the runtime package in option names and messages:
	// "network" makes the options "network.WithTLSFiles" and so on.
	Package string
	// Schemes are the target schemes the options apply to; tether.Open
	// refuses them for targets of other schemes, naming them.
	Schemes []string
	// PlaintextSchemes are the schemes whose targets are plaintext when no
	// TLS option is given (unix sockets, whose file permissions say who may
	// connect). A target of any other scheme requires a TLS option or an
	// explicit WithInsecure.
	PlaintextSchemes []string
}

// config is what a load's TLS options set, in the order the host gave
// them; Options.Transport reads it.
type config struct {
	files      *tlsFiles   // WithTLSFiles
	tls        *tls.Config // WithTLSConfig, not cloned yet
	tlsGiven   bool        // WithTLSConfig was given, even with nil
	serverName string      // WithServerName
	insecure   bool        // WithInsecure
}

// tlsFiles are the PEM files of the client side of mutual TLS.
type tlsFiles struct{ cert, key, ca string }

// name is an option's or a message's name of the option: "network.WithInsecure".
func (o Options) name(option string) string { return o.Package + "." + option }

// option is one of the TLS options.
func (o Options) option(name string, set func(*config)) tether.Option {
	return tether.RuntimeOption(o.name(name), set, o.Schemes...)
}

// WithTLSFiles secures the connections with mutual TLS: certFile and keyFile
// are the host's client certificate and its key (PEM), caFile the CA
// certificates (PEM) that signed the instances' server certificate. The
// files are read when the plugin is opened (see LoadClientTLS).
func (o Options) WithTLSFiles(certFile, keyFile, caFile string) tether.Option {
	return o.option("WithTLSFiles", func(c *config) { c.files = &tlsFiles{certFile, keyFile, caFile} })
}

// WithTLSConfig secures the connections with conf, cloned when the plugin
// is opened, with MinVersion raised to TLS 1.2 if lower. A nil conf is
// refused by Open.
func (o Options) WithTLSConfig(conf *tls.Config) tether.Option {
	return o.option("WithTLSConfig", func(c *config) { c.tls, c.tlsGiven = conf, true })
}

// WithServerName sets the name every instance's server certificate must
// carry, instead of conf.ServerName or the runtime's default (see
// Transport.ServerName).
func (o Options) WithServerName(name string) tether.Option {
	return o.option("WithServerName", func(c *config) { c.serverName = name })
}

// WithInsecure connects without TLS. Outside PlaintextSchemes it must be
// asked for explicitly, and Transport logs it as a warning.
func (o Options) WithInsecure() tether.Option {
	return o.option("WithInsecure", func(c *config) { c.insecure = true })
}

// plaintextByDefault reports whether t's targets are plaintext without a
// TLS option.
func (o Options) plaintextByDefault(t tether.Target) bool {
	return slices.Contains(o.PlaintextSchemes, t.Scheme)
}
