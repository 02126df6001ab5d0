package execruntime

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"sync"

	"github.com/hashicorp/yamux"

	"github.com/tetherplug/tether/internal/autotls"
	"github.com/tetherplug/tether/internal/wire"
)

// What a host needs to serve go-plugin's gRPC broker (plugin.GRPCBroker) to
// a go-plugin plugin it launched: where brokered listeners go, the TLS of
// brokered connections, and, in multiplexed mode, the yamux session over
// the one connection to the plugin's listener. The broker itself is the
// public goplugin package's; the instance keeps it and closes it when the
// process ends, so that Client.Close returns with its listeners gone.

// ErrMuxNotSupported is the cause of a load that asked for go-plugin's
// multiplexed broker (Config.Multiplex) of a plugin whose handshake line
// does not offer it. The goplugin package re-exports it.
var ErrMuxNotSupported = errors.New("gRPC broker multiplexing is not supported by the plugin")

// BrokerEnv is what one launched instance gives go-plugin's broker.
type BrokerEnv struct {
	// Network is the network of the plugin's own listener, "unix" or "tcp"
	// (Windows): the host's brokered listeners use the same.
	Network string
	// SocketDir is the plugin's private 0700 directory, where the host's
	// brokered Unix sockets go.
	SocketDir string
	// ServerTLS secures the host's brokered servers and ClientTLS its dials
	// to the plugin's, as go-plugin does with automatic mutual TLS: each
	// side presents its one-time certificate and trusts only the other's.
	// Both are nil when the plugin's connection is plaintext.
	ServerTLS, ClientTLS *tls.Config
	// Session is the yamux session of multiplexed mode (nil in classic
	// mode): the host opens streams on it to reach the plugin, and accepts
	// the streams the plugin opens to reach the host.
	Session *yamux.Session
}

// brokerSlot is an instance's broker state.
type brokerSlot struct {
	mu      sync.Mutex
	enabled bool
	env     BrokerEnv
	broker  io.Closer // made on first use, by the goplugin package
	ended   bool      // the process has ended: no broker any more
}

// GoPluginBroker returns the instance's broker, made by make on first use
// and closed when the process ends. It fails when the load did not ask for
// the broker (Config.Broker) or the process has ended.
func (i *Instance) GoPluginBroker(make func(BrokerEnv) (io.Closer, error)) (io.Closer, error) {
	s := &i.broker
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case !s.enabled:
		return nil, errBrokerNotEnabled
	case s.ended:
		return nil, errBrokerEnded
	case s.broker != nil:
		return s.broker, nil
	}
	b, err := make(s.env)
	if err != nil {
		return nil, err
	}
	s.broker = b
	return b, nil
}

var (
	errBrokerNotEnabled = errors.New("the plugin was not launched with the broker on")
	errBrokerEnded      = errors.New("the plugin has exited")
)

// BrokerNotEnabled reports GoPluginBroker's error for a load that did not
// ask for the broker.
func BrokerNotEnabled(err error) bool { return errors.Is(err, errBrokerNotEnabled) }

// closeBroker closes the broker and the yamux session once the process
// has ended.
func (i *Instance) closeBroker() {
	s := &i.broker
	s.mu.Lock()
	b, sess := s.broker, s.env.Session
	s.ended = true
	s.mu.Unlock()
	if b != nil {
		_ = b.Close()
	}
	if sess != nil {
		_ = sess.Close()
	}
}

// setUpBroker prepares the broker of an instance whose handshake hl passed,
// and in multiplexed mode opens the session and makes ep dial through it.
func (i *Instance) setUpBroker(cfg Config, hl wire.HandshakeLine, hostCert tls.Certificate, dir string, ep *Endpoint) error {
	if !cfg.Broker && !cfg.Multiplex {
		return nil
	}
	env := BrokerEnv{Network: hl.Network, SocketDir: dir}
	if cfg.AutoMTLS {
		var err error
		if env.ClientTLS, err = autotls.ClientConfig(hostCert, hl.ServerCert); err != nil {
			return err
		}
		env.ServerTLS = serverTLS(hostCert, env.ClientTLS.RootCAs)
	}
	if cfg.Multiplex {
		sess, err := dialSession(hl.Network, hl.Address)
		if err != nil {
			return fmt.Errorf("could not open the multiplexed connection: %w", err)
		}
		env.Session = sess
		ep.Dial = func(ctx context.Context) (net.Conn, error) { return sess.Open() }
	}
	i.broker = brokerSlot{enabled: true, env: env}
	return nil
}

// serverTLS is the host's side of a brokered connection the plugin dials:
// the host's certificate, and only the plugin's accepted from clients.
func serverTLS(own tls.Certificate, plugin *x509.CertPool) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{own},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    plugin,
		MinVersion:   tls.VersionTLS12,
		ServerName:   autotls.ServerName,
	}
}

// dialSession dials the plugin's listener once and starts yamux's client
// side on it; the plugin is yamux's server.
func dialSession(network, address string) (*yamux.Session, error) {
	conn, err := net.Dial(network, address)
	if err != nil {
		return nil, err
	}
	cfg := yamux.DefaultConfig()
	cfg.LogOutput = nil
	cfg.Logger = log.New(io.Discard, "", 0)
	sess, err := yamux.Client(conn, cfg)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	return sess, nil
}
