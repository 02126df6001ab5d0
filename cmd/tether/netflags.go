package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/spf13/cobra"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/kube"
	"github.com/tetherplug/tether/network"
)

// networkSchemes are the target schemes of the network runtime, the only
// targets the TLS flags apply to.
var networkSchemes = []string{"tcp", "unix", "dns"}

// tlsFlags are the client side of TLS with a plugin served on the network.
type tlsFlags struct {
	cert, key, ca, serverName string
	insecure                  bool
	portForward               bool // --port-forward, kube targets only (portforward.go)
}

func (f *tlsFlags) add(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.cert, "tls-cert", "", "client certificate (PEM) for a network or kube target's mutual TLS; needs --tls-key")
	fs.StringVar(&f.key, "tls-key", "", "private key (PEM) of --tls-cert")
	fs.StringVar(&f.ca, "tls-ca", "", "CA certificates (PEM) that signed the plugin's server certificate (default the system's)")
	fs.StringVar(&f.serverName, "tls-server-name", "",
		"name the server certificate must carry (default the target's host; localhost for unix://, NAME.NAMESPACE.svc for kube://)")
	fs.BoolVar(&f.insecure, "insecure", false, "connect to a network or kube:// target in plaintext, without TLS")
}

// given names the first TLS flag set, or "".
func (f *tlsFlags) given() string {
	for _, g := range []struct {
		name string
		set  bool
	}{{"--tls-cert", f.cert != ""}, {"--tls-key", f.key != ""}, {"--tls-ca", f.ca != ""},
		{"--tls-server-name", f.serverName != ""}, {"--insecure", f.insecure}} {
		if g.set {
			return g.name
		}
	}
	return ""
}

// secure says whether the connections to network target t use TLS: unless
// --insecure, always for tcp and dns, and with TLS flags for unix.
func (f *tlsFlags) secure(t tether.Target) bool {
	return !f.insecure && (t.Scheme != "unix" || f.given() != "")
}

// options turns the flags into the network runtime's options for target t.
// For a target of any other runtime, a flag given is an error naming it.
func (f *tlsFlags) options(t tether.Target) ([]tether.Option, error) {
	if err := checkPortForward(f.portForward, t); err != nil {
		return nil, err
	}
	if t.Scheme == "kube" {
		opts, err := f.kubeOptions()
		return append(opts, portForwardOptions(f.portForward)...), err
	}
	if !slices.Contains(networkSchemes, t.Scheme) {
		if flag := f.given(); flag != "" {
			return nil, fmt.Errorf("%s is for network targets (tcp://, unix://, dns:///), not %s", flag, t)
		}
		return nil, nil
	}
	return f.networkOptions()
}

// kubeNeedsTLS is the error of a kube target given no TLS flag.
const kubeNeedsTLS = "a kube target requires TLS: give --tls-cert, --tls-key and --tls-ca, or --insecure to connect in plaintext"

// kubeOptions are the kube runtime's options the flags ask for: its pods
// are network plugins, reached with the same client TLS.
func (f *tlsFlags) kubeOptions() ([]tether.Option, error) {
	switch {
	case f.insecure && f.given() != "--insecure":
		return nil, fmt.Errorf("--insecure contradicts %s: give TLS flags or --insecure, not both", f.given())
	case f.insecure:
		return []tether.Option{kube.WithInsecure()}, nil
	case f.given() == "":
		return nil, errors.New(kubeNeedsTLS)
	case f.cert == "" || f.key == "" || f.ca == "":
		return nil, errors.New("a kube:// target's mutual TLS needs --tls-cert, --tls-key and --tls-ca")
	}
	opts := []tether.Option{kube.WithTLSFiles(f.cert, f.key, f.ca)}
	if f.serverName != "" {
		opts = append(opts, kube.WithServerName(f.serverName))
	}
	return opts, nil
}

// networkOptions are the network runtime's options the flags ask for.
func (f *tlsFlags) networkOptions() ([]tether.Option, error) {
	switch {
	case (f.cert == "") != (f.key == ""):
		return nil, errors.New("--tls-cert and --tls-key go together: give the client certificate and its key")
	case f.insecure && f.given() != "--insecure":
		return nil, fmt.Errorf("--insecure contradicts %s: give TLS flags or --insecure, not both", f.given())
	case f.insecure:
		return []tether.Option{network.WithInsecure()}, nil
	case f.given() == "":
		return nil, nil // the runtime's default: plaintext for unix, an error for tcp and dns
	}
	var opts []tether.Option
	if f.serverName != "" {
		opts = append(opts, network.WithServerName(f.serverName))
	}
	if f.cert != "" && f.ca != "" {
		return append(opts, network.WithTLSFiles(f.cert, f.key, f.ca)), nil
	}
	conf, err := f.partialConfig()
	if err != nil {
		return nil, err
	}
	return append(opts, network.WithTLSConfig(conf)), nil
}

// schemeOptions are the network runtime's options for each of its schemes,
// for commands that load targets of several runtimes at once (ls).
func (f *tlsFlags) schemeOptions() (map[string][]tether.Option, error) {
	if f.given() == "" {
		return nil, nil
	}
	opts, err := f.networkOptions()
	if err != nil {
		return nil, err
	}
	m := map[string][]tether.Option{}
	for _, s := range networkSchemes {
		m[s] = opts
	}
	return m, nil
}

// partialConfig is the TLS configuration when not all three files are
// given: no client certificate, or the system's CAs.
func (f *tlsFlags) partialConfig() (*tls.Config, error) {
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	if f.cert != "" {
		cert, err := tls.LoadX509KeyPair(f.cert, f.key)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert %s, --tls-key %s: %w", f.cert, f.key, err)
		}
		conf.Certificates = []tls.Certificate{cert}
	}
	if f.ca != "" {
		pem, err := os.ReadFile(f.ca)
		if err != nil {
			return nil, fmt.Errorf("--tls-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--tls-ca %s holds no PEM certificate", f.ca)
		}
		conf.RootCAs = pool
	}
	return conf, nil
}
