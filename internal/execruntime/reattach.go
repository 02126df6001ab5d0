package execruntime

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"

	"google.golang.org/grpc/credentials"

	"github.com/tetherplug/tether/internal/autotls"
	"github.com/tetherplug/tether/internal/proc"
)

// ReattachConfig is what another host process needs to attach to a plugin
// this host launched and that is still running (see Client.ReattachConfig
// and Attach), in the spirit of go-plugin's ReattachConfig and Terraform's
// TF_REATTACH_PROVIDERS. It marshals to JSON with the field names below,
// which are stable.
//
// With automatic mutual TLS it holds key material: the private key of the
// client certificate the plugin trusts, which lets whoever reads it call the
// plugin as this host. Store it readable by its owner only (WriteFile does),
// and never log it.
type ReattachConfig struct {
	// Plugin is the plugin's name in logs and errors.
	Plugin string `json:"plugin"`
	// Network is "unix" or "tcp"; Address is the socket's path, or a
	// loopback host:port.
	Network string `json:"network"`
	Address string `json:"address"`
	// Protocol is the wire protocol, always "grpc".
	Protocol string `json:"protocol"`
	// ProtocolVersion is the application protocol version the plugin
	// speaks with its host.
	ProtocolVersion int `json:"protocol_version"`
	// Interfaces are the interfaces negotiated by the host that launched
	// it, with their versions. An attaching host refuses a plugin that no
	// longer serves them.
	Interfaces map[string]int `json:"interfaces,omitempty"`
	// Pid is the plugin's process id (0: not checked). StartTime is that
	// process's start time in clock ticks after boot, field 22 of
	// the OS (see proc.StartTime; 0: unknown), so that a reused pid is noticed.
	Pid       int    `json:"pid,omitempty"`
	StartTime uint64 `json:"start_time,omitempty"`
	// TLS is the certificate material of automatic mutual TLS; nil when
	// the plugin's socket is plaintext.
	TLS *ReattachTLS `json:"tls,omitempty"`
	// Spool names the files a plugin launched WithSpool prints to, and how
	// far its output was read; nil when its output goes to pipes.
	Spool *ReattachSpool `json:"spool,omitempty"`
}

// ReattachTLS is the certificate material of a plugin launched with
// WithAutoMTLS, PEM encoded.
type ReattachTLS struct {
	// ClientCert and ClientKey are the host's one-time certificate and its
	// private key (PKCS #8): the only client certificate the plugin
	// accepts.
	ClientCert string `json:"client_cert"`
	ClientKey  string `json:"client_key"`
	// ServerCert is the plugin's own certificate, the only one trusted for
	// its side (it is its own CA).
	ServerCert string `json:"server_cert"`
	// ServerName is the name the plugin's certificate carries; empty means
	// "localhost".
	ServerName string `json:"server_name,omitempty"`
}

// ReattachConfig describes how another host process attaches to the
// running instance, which the host admitted with protocol version
// protocol and interfaces: its socket, versions, process id and start
// time, and with automatic mutual TLS the certificate material. It fails
// unless one instance runs.
func (r *Runtime) ReattachConfig(plugin string, protocol int, interfaces map[string]int) (ReattachConfig, error) {
	ei := r.Current()
	if ei == nil {
		return ReattachConfig{}, &Error{Plugin: plugin, Kind: KindUnavailable,
			Detail: "reattach needs one running instance, and it has 0"}
	}
	if ei.hs.Multiplex {
		return ReattachConfig{}, &Error{Plugin: plugin, Kind: KindBadTarget,
			Detail: "a plugin that multiplexes its connections (go-plugin's multiplexed broker) cannot be reattached to: its one connection is this host's"}
	}
	cfg := ReattachConfig{Plugin: plugin, Network: ei.hs.Network, Address: ei.hs.Address, Protocol: "grpc",
		ProtocolVersion: protocol, Interfaces: maps.Clone(interfaces), Pid: ei.Pid(), Spool: ei.spoolConfig()}
	if start, err := proc.StartTime(cfg.Pid); err == nil {
		cfg.StartTime = start
	}
	if ei.hostCert != nil {
		key, err := x509.MarshalPKCS8PrivateKey(ei.hostCert.PrivateKey)
		if err != nil {
			return ReattachConfig{}, &Error{Plugin: plugin, Kind: KindHost, Detail: "could not encode its TLS key", Err: err}
		}
		cfg.TLS = &ReattachTLS{
			ClientCert: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ei.hostCert.Certificate[0]})),
			ClientKey:  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key})),
			ServerCert: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ei.hs.ServerCert})),
			ServerName: autotls.ServerName,
		}
	}
	return cfg, nil
}

func (cfg ReattachConfig) clone() ReattachConfig {
	cfg.Interfaces = maps.Clone(cfg.Interfaces)
	if cfg.TLS != nil {
		t := *cfg.TLS
		cfg.TLS = &t
	}
	if cfg.Spool != nil {
		sp := *cfg.Spool
		cfg.Spool = &sp
	}
	return cfg
}

// WriteFile writes the config as JSON to path, atomically (a temporary file
// in the same directory, renamed over path) and readable by its owner only
// (mode 0600), since it may hold a private key.
func (cfg ReattachConfig) WriteFile(path string) (err error) {
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if err = f.Chmod(0o600); err != nil {
		return err
	}
	if _, err = f.Write(append(data, '\n')); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// maxReattachFile bounds what ReadReattachConfig reads: a config with
// certificates is about 2 KiB.
const maxReattachFile = 1 << 20

// ReadReattachConfig reads and checks a config WriteFile wrote. A file that
// is not a valid config, or that holds a private key and is readable by
// others than its owner, is a KindBadTarget *Error naming the cause.
func ReadReattachConfig(path string) (ReattachConfig, error) {
	bad := func(detail string, err error) (ReattachConfig, error) {
		return ReattachConfig{}, &Error{Plugin: path, Kind: KindBadTarget, Detail: detail, Err: err}
	}
	f, err := os.Open(path)
	if err != nil {
		return bad("cannot read the reattach config", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return bad("cannot read the reattach config", err)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxReattachFile+1))
	if err != nil {
		return bad("cannot read the reattach config", err)
	}
	if len(data) > maxReattachFile {
		return bad(fmt.Sprintf("the reattach config is larger than %d KiB", maxReattachFile>>10), nil)
	}
	cfg, err := parseReattachConfig(path, data)
	if err != nil {
		return ReattachConfig{}, err
	}
	if cfg.TLS != nil && info.Mode().Perm()&0o077 != 0 {
		return bad(fmt.Sprintf("the reattach config holds a private key but its mode is %v: make it readable by its owner only (chmod 600)",
			info.Mode().Perm()), nil)
	}
	return cfg, nil
}

// parseReattachConfig decodes and checks a config; name is for errors.
func parseReattachConfig(name string, data []byte) (ReattachConfig, error) {
	var cfg ReattachConfig
	if err := json.Unmarshal(data, &cfg); err != nil {
		return ReattachConfig{}, &Error{Plugin: name, Kind: KindBadTarget, Detail: "the reattach config is not valid JSON", Err: err}
	}
	if _, err := cfg.check(); err != nil {
		return ReattachConfig{}, err
	}
	return cfg, nil
}

// check validates the config and returns the transport credentials it
// describes (nil: plaintext). Errors are KindBadTarget naming the field.
func (cfg ReattachConfig) check() (credentials.TransportCredentials, error) {
	bad := func(field, detail string, err error) error {
		return &Error{Plugin: cfg.name(), Kind: KindBadTarget,
			Detail: fmt.Sprintf("reattach config field %q %s", field, detail), Err: err}
	}
	switch cfg.Network {
	case "unix":
		if !filepath.IsAbs(cfg.Address) {
			return nil, bad("address", fmt.Sprintf("is %q, not the absolute path of a Unix socket", cfg.Address), nil)
		}
	case "tcp":
		if err := CheckLocal("tcp", cfg.Address); err != nil {
			return nil, bad("address", "is not a loopback host:port (a local plugin's)", err)
		}
	default:
		return nil, bad("network", fmt.Sprintf("is %q, neither unix nor tcp", cfg.Network), nil)
	}
	if cfg.Protocol != "grpc" {
		return nil, bad("protocol", fmt.Sprintf("is %q, not grpc", cfg.Protocol), nil)
	}
	if cfg.ProtocolVersion <= 0 {
		return nil, bad("protocol_version", fmt.Sprintf("is %d, not a version", cfg.ProtocolVersion), nil)
	}
	for name, v := range cfg.Interfaces {
		if name == "" || v <= 0 {
			return nil, bad("interfaces", fmt.Sprintf("has %q: %d, not an interface and its version", name, v), nil)
		}
	}
	if cfg.Pid < 0 {
		return nil, bad("pid", fmt.Sprintf("is %d, not a process id", cfg.Pid), nil)
	}
	if cfg.Pid == 0 && cfg.StartTime != 0 {
		return nil, bad("start_time", "is set without a pid", nil)
	}
	if sp := cfg.Spool; sp != nil && (!filepath.IsAbs(sp.Stdout) || !filepath.IsAbs(sp.Stderr) || sp.StdoutOffset < 0 || sp.StderrOffset < 0) {
		return nil, bad("spool", "does not name two absolute paths and offsets from 0", nil)
	}
	if cfg.TLS == nil {
		return nil, nil
	}
	return cfg.TLS.creds(bad)
}

// creds builds the client side of the plugin's mutual TLS.
func (t *ReattachTLS) creds(bad func(field, detail string, err error) error) (credentials.TransportCredentials, error) {
	if _, err := pemCert(t.ClientCert); err != nil {
		return nil, bad("tls.client_cert", "is not a PEM certificate", err)
	}
	own, err := tls.X509KeyPair([]byte(t.ClientCert), []byte(t.ClientKey))
	if err != nil {
		return nil, bad("tls.client_key", "is not the PEM private key of tls.client_cert", err)
	}
	server, err := pemCert(t.ServerCert)
	if err != nil {
		return nil, bad("tls.server_cert", "is not a PEM certificate", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(server)
	name := t.ServerName
	if name == "" {
		name = autotls.ServerName
	}
	if strings.ContainsAny(name, "/ \t\r\n") {
		return nil, bad("tls.server_name", fmt.Sprintf("is %q, not a host name", name), nil)
	}
	return credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{own}, RootCAs: pool,
		MinVersion: tls.VersionTLS12, ServerName: name}), nil
}

// pemCert parses the one certificate of a PEM text.
func pemCert(s string) (*x509.Certificate, error) {
	block, rest := pem.Decode([]byte(s))
	switch {
	case block == nil:
		return nil, errors.New("no PEM block")
	case block.Type != "CERTIFICATE":
		return nil, fmt.Errorf("a PEM %q block, not a CERTIFICATE", block.Type)
	case strings.TrimSpace(string(rest)) != "":
		return nil, errors.New("text after the certificate")
	}
	return x509.ParseCertificate(block.Bytes)
}

// name is the plugin's name for errors.
func (cfg ReattachConfig) name() string {
	if cfg.Plugin != "" {
		return cfg.Plugin
	}
	return "reattach:" + cfg.Network + ":" + cfg.Address
}

// ReattachEndpoint is the endpoint cfg's plugin answers on, with the
// credentials its certificate material makes. (A function, not a method:
// the tether package exports ReattachConfig, and its methods with it.)
func ReattachEndpoint(cfg ReattachConfig) (Endpoint, error) {
	creds, err := cfg.check()
	if err != nil {
		return Endpoint{}, err
	}
	ep := Endpoint{Network: cfg.Network, Address: cfg.Address, Creds: creds, ProtocolVersion: cfg.ProtocolVersion}
	if cfg.TLS != nil {
		ep.ServerName = cfg.TLS.ServerName
	}
	return ep, nil
}
