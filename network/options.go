package network

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"time"

	"github.com/tetherplug/tether"
)

// schemes are the targets this package's options apply to.
var schemes = []string{"tcp", "unix", "dns"}

// config is the settings of one load, as this package's options set them
// (tether.RuntimeOption), applied in the order given.
type config struct {
	files      *[3]string // cert, key, CA
	tls        *tls.Config
	serverName string
	insecure   bool
	interval   time.Duration // re-resolution interval of dns targets
}

// option is an option of this package's runtimes.
func option(name string, set func(*config)) tether.Option {
	return tether.RuntimeOption("network."+name, set, schemes...)
}

// WithTLSFiles secures the connections with mutual TLS: certFile and keyFile
// are the host's client certificate and its key (PEM), caFile the CA
// certificates (PEM) that signed the plugin's server certificate. The files
// are read when the plugin is opened. For tcp, unix and dns targets only.
func WithTLSFiles(certFile, keyFile, caFile string) tether.Option {
	return option("WithTLSFiles", func(c *config) { c.files = &[3]string{certFile, keyFile, caFile} })
}

// WithTLSConfig secures the connections with conf (cloned; MinVersion is
// raised to TLS 1.2 if lower). Unless conf sets ServerName (or
// WithServerName does), each address's host is the name the server
// certificate must carry. For tcp, unix and dns targets only.
func WithTLSConfig(conf *tls.Config) tether.Option {
	return option("WithTLSConfig", func(c *config) { c.tls = conf })
}

// WithServerName sets the name every instance's server certificate must
// carry, instead of each address's host ("localhost" for a Unix socket).
// For tcp, unix and dns targets only.
func WithServerName(name string) tether.Option {
	return option("WithServerName", func(c *config) { c.serverName = name })
}

// WithInsecure connects without TLS: anyone on the network path can read
// and change the calls, and any process that can reach the address can
// pose as the plugin. It must be asked for explicitly, and is logged as a
// warning, for tcp and dns targets; unix targets are plaintext by default.
func WithInsecure() tether.Option {
	return option("WithInsecure", func(c *config) { c.insecure = true })
}

// tlsConfig returns the TLS configuration of a load, or nil for plaintext.
// A tcp or dns target needs TLS or an explicit WithInsecure.
func (c config) tlsConfig(t tether.Target, name string) (*tls.Config, error) {
	switch {
	case c.files != nil && c.tls != nil:
		return nil, badTarget(t, "give network.WithTLSFiles or network.WithTLSConfig, not both", nil)
	case c.insecure && (c.files != nil || c.tls != nil):
		return nil, badTarget(t, "network.WithInsecure contradicts the TLS option also given", nil)
	case c.insecure:
		return nil, nil
	case c.files == nil && c.tls == nil:
		if t.Scheme == "unix" {
			return nil, nil
		}
		return nil, badTarget(t, "a "+t.Scheme+" target requires TLS: give network.WithTLSFiles(cert, key, ca) or "+
			"network.WithTLSConfig, or network.WithInsecure() to connect in plaintext", nil)
	}
	var conf *tls.Config
	if c.tls != nil {
		conf = c.tls.Clone()
	} else {
		var err error
		f := *c.files
		if conf, err = ClientTLSFromFiles(name, f[0], f[1], f[2]); err != nil {
			return nil, err
		}
	}
	conf.MinVersion = max(conf.MinVersion, tls.VersionTLS12)
	if c.serverName != "" {
		conf.ServerName = c.serverName
	}
	return conf, nil
}

// ClientTLSFromFiles reads a host's client certificate and key and the CA
// certificates that signed the plugin's server certificate (PEM files)
// into the client side of mutual TLS, TLS 1.2 at least. Errors are
// *tether.PluginError values of kind tether.ErrHost, for plugin name,
// naming the file. Other runtimes whose instances are network plugins (the
// kube runtime) share it.
func ClientTLSFromFiles(name, certFile, keyFile, caFile string) (*tls.Config, error) {
	f := [3]string{certFile, keyFile, caFile}
	hostErr := func(detail string, err error) error {
		return &tether.PluginError{Plugin: name, Kind: tether.ErrHost, Detail: detail, Err: err}
	}
	cert, err := tls.LoadX509KeyPair(f[0], f[1])
	if err != nil {
		return nil, hostErr(fmt.Sprintf("could not load the client certificate %s and key %s", f[0], f[1]), err)
	}
	pem, err := os.ReadFile(f[2])
	if err != nil {
		return nil, hostErr("could not read the CA file", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, hostErr(fmt.Sprintf("the CA file %s holds no PEM certificate", f[2]), nil)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}
