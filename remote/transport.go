package remote

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"google.golang.org/grpc/credentials"

	"github.com/tetherplug/tether"
)

// Transport is how a runtime's connections to its instances are secured:
// TLS credentials and the name the instances' certificate must carry, or
// plaintext. One Transport serves every endpoint of a load, so that the
// client sees the same credentials for an address each time it is
// reported.
type Transport struct {
	conf       *tls.Config // nil: plaintext
	creds      credentials.TransportCredentials
	serverName string // the name every certificate must carry; "": each endpoint's default
}

// Transport reads the TLS options the host gave for target t (the load's
// options, in env) and applies the rules, in this order:
//
//   - WithTLSFiles and WithTLSConfig together: ErrBadTarget, "give
//     P.WithTLSFiles or P.WithTLSConfig, not both";
//   - WithInsecure with either: ErrBadTarget, "P.WithInsecure contradicts
//     the TLS option also given";
//   - WithInsecure alone: plaintext, logged as a warning to env.Logger
//     unless t's scheme is one of PlaintextSchemes;
//   - neither: plaintext for PlaintextSchemes, otherwise ErrBadTarget, "a
//     SCHEME target requires TLS: give P.WithTLSFiles(cert, key, ca) or
//     P.WithTLSConfig, or P.WithInsecure() to connect in plaintext";
//   - WithTLSConfig(nil): ErrBadTarget, "P.WithTLSConfig was given a nil
//     *tls.Config";
//   - WithTLSFiles: the files are read with LoadClientTLS (errors are
//     ErrHost naming the file); WithTLSConfig: the config is cloned.
//     Either way MinVersion is raised to TLS 1.2, and WithServerName, if
//     given, replaces the config's ServerName.
//
// P is the Package of o. Errors are *tether.PluginError values: of target
// t for ErrBadTarget, of plugin env.Name for ErrHost.
func (o Options) Transport(t tether.Target, env tether.RuntimeEnv) (*Transport, error) {
	var c config
	tether.ApplyRuntimeOptions(env, &c)
	tr, err := o.transport(t, env.Name, c)
	if err == nil && c.insecure && !o.plaintextByDefault(t) && env.Logger != nil {
		env.Logger.Warn("connecting to the plugin in plaintext ("+o.name("WithInsecure")+
			"): calls are neither encrypted nor authenticated", "plugin", env.Name, "target", t.Raw)
	}
	return tr, err
}

// transport applies the rules of Transport to c.
func (o Options) transport(t tether.Target, name string, c config) (*Transport, error) {
	bad := func(detail string) error {
		return &tether.PluginError{Plugin: t.Raw, Kind: tether.ErrBadTarget, Detail: detail}
	}
	hasTLS := c.files != nil || c.tlsGiven
	switch {
	case c.files != nil && c.tlsGiven:
		return nil, bad(fmt.Sprintf("give %s or %s, not both", o.name("WithTLSFiles"), o.name("WithTLSConfig")))
	case c.insecure && hasTLS:
		return nil, bad(o.name("WithInsecure") + " contradicts the TLS option also given")
	case c.insecure || (!hasTLS && o.plaintextByDefault(t)):
		return o.Plaintext(), nil
	case !hasTLS:
		return nil, bad(fmt.Sprintf("a %s target requires TLS: give %s(cert, key, ca) or %s, or %s() to connect in plaintext",
			t.Scheme, o.name("WithTLSFiles"), o.name("WithTLSConfig"), o.name("WithInsecure")))
	case c.tlsGiven && c.tls == nil:
		return nil, bad(o.name("WithTLSConfig") + " was given a nil *tls.Config")
	}
	conf := c.tls
	if c.files != nil {
		var err error
		if conf, err = LoadClientTLS(name, c.files.cert, c.files.key, c.files.ca); err != nil {
			return nil, err
		}
	}
	if c.serverName != "" {
		conf = conf.Clone()
		conf.ServerName = c.serverName
	}
	return o.TLS(conf), nil
}

// TLS is the Transport of mutual TLS with conf (cloned; MinVersion is
// raised to TLS 1.2 if lower), for a runtime that has a *tls.Config of its
// own rather than the host's options.
func (o Options) TLS(conf *tls.Config) *Transport {
	conf = conf.Clone()
	conf.MinVersion = max(conf.MinVersion, tls.VersionTLS12)
	return &Transport{conf: conf, serverName: conf.ServerName, creds: newTLSCreds(credentials.NewTLS(conf), o)}
}

// Plaintext is the Transport of plaintext connections.
func (o Options) Plaintext() *Transport { return &Transport{creds: newPlainCreds(o)} }

// Secure reports whether the connections use TLS.
func (tr *Transport) Secure() bool { return tr.conf != nil }

// ServerName is the name an instance's certificate must carry: the one
// WithServerName or the TLS configuration set, else def, the runtime's
// default for the instance (network: the address's host; kube: the
// Service's DNS name). "" with plaintext.
func (tr *Transport) ServerName(def string) string {
	switch {
	case tr.conf == nil:
		return ""
	case tr.serverName != "":
		return tr.serverName
	}
	return def
}

// Endpoint is the endpoint of an instance at address on network ("tcp" or
// "unix"), with the Transport's credentials and ServerName(def), health
// checked (a remote instance's end is seen only through its connection).
// The runtime sets what else it knows, such as Replaceable.
func (tr *Transport) Endpoint(network, address, def string) tether.Endpoint {
	return tether.Endpoint{Network: network, Address: address, Creds: tr.creds,
		ServerName: tr.ServerName(def), HealthChecked: true}
}

// LoadClientTLS reads a host's client certificate and key and the CA
// certificates that signed the plugin's server certificate (PEM files)
// into the client side of mutual TLS, TLS 1.2 at least. Errors are
// *tether.PluginError values of kind tether.ErrHost, for plugin name,
// naming the file.
func LoadClientTLS(name, certFile, keyFile, caFile string) (*tls.Config, error) {
	hostErr := func(detail string, err error) error {
		return &tether.PluginError{Plugin: name, Kind: tether.ErrHost, Detail: detail, Err: err}
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, hostErr(fmt.Sprintf("could not load the client certificate %s and key %s", certFile, keyFile), err)
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, hostErr("could not read the CA file", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, hostErr(fmt.Sprintf("the CA file %s holds no PEM certificate", caFile), nil)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}
