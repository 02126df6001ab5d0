// Package goplugin lets a tether host serve hashicorp/go-plugin's gRPC
// broker (plugin.GRPCBroker) to the go-plugin plugins it launches, so that
// plugins which call back into their host through the broker load
// unchanged. The host opts in with WithBroker (or WithMultiplexedBroker)
// when it launches the plugin, and gets the plugin's broker with Broker:
//
//	client, err := tether.Launch(ctx, "./plugins/counter",
//		tether.WithHandshake(handshake), tether.WithInterface("counter", 1),
//		goplugin.WithBroker())
//	broker, err := goplugin.Broker(client)
//	id := broker.NextId()
//	go broker.AcceptAndServe(id, func(opts []grpc.ServerOption) *grpc.Server {
//		s := grpc.NewServer(opts...)
//		addhelper.RegisterAddHelperServer(s, helper)
//		return s
//	})
//	// ... pass id to the plugin in a call; it dials it with its broker.
//
// The broker's methods have go-plugin's names and shapes (NextId, Accept,
// AcceptAndServe, Dial, DialWithOptions, Close), and its wire behaviour is
// go-plugin's: in classic mode each brokered connection has a Unix socket
// of its own, in the plugin's private socket directory (loopback TCP where
// the plugin listens on TCP), announced on the broker's stream; in
// multiplexed mode (go-plugin v1.6 and later) every connection, the main
// one too, is a yamux stream over the one connection to the plugin's
// listener, and each side knocks before it opens one. With automatic mutual
// TLS (tether.WithAutoMTLS) brokered connections use the same one-time
// certificates as the main connection, in both directions.
//
// tether's own plugins do not serve the broker: they call their host back
// through tether's callbacks (tether.WithCallbacks), which need no extra
// sockets and cross networks. This package imports nothing of go-plugin's.
package goplugin

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/execruntime"
)

// Errors of the broker, for errors.Is.
var (
	// ErrBrokerNotEnabled: the client's plugin was not launched with
	// WithBroker or WithMultiplexedBroker (or not launched by this host at
	// all), so it has no broker.
	ErrBrokerNotEnabled = errors.New("go-plugin broker not enabled for this plugin")
	// ErrNotGoPlugin: the plugin is a tether plugin, which does not serve
	// go-plugin's broker (it offers tether's callbacks instead).
	ErrNotGoPlugin = errors.New("plugin does not serve go-plugin's broker")
	// ErrGRPCBrokerMuxNotSupported: the host asked for the multiplexed
	// broker and the plugin's handshake does not offer it (a go-plugin
	// plugin older than v1.6, or a tether plugin). tether.Launch fails
	// with a *tether.PluginError of kind tether.ErrIncompatibleVersion
	// that wraps it. It is go-plugin's ErrGRPCBrokerMuxNotSupported under
	// the same name.
	ErrGRPCBrokerMuxNotSupported = execruntime.ErrMuxNotSupported
	// ErrBrokerClosed: the broker was closed, or its plugin has exited or
	// its client was closed.
	ErrBrokerClosed = errors.New("go-plugin broker closed")
	// ErrDialTimeout: Dial waited DialTimeout for the plugin to serve the
	// id (to announce it in classic mode, to acknowledge the knock in
	// multiplexed mode) and it did not.
	ErrDialTimeout = errors.New("brokered connection not served in time")
	// ErrAddressRefused: in classic mode the plugin announced a brokered
	// listener the host does not dial: neither a Unix socket in the
	// plugin's private socket directory nor loopback TCP.
	ErrAddressRefused = errors.New("brokered address refused")
)

// DialTimeout bounds how long Dial waits for the plugin to serve an id:
// go-plugin's 5 seconds, which is also how long the plugin waits for the
// host to acknowledge its knock in multiplexed mode.
const DialTimeout = 5 * time.Second

// KnockAcceptWait bounds how long the plugin's knock for an id waits for
// the host's Accept of the id in multiplexed mode before the host refuses
// it: a second less than the plugin's own DialTimeout, so that the host
// never acknowledges a knock the plugin has given up on (and then hands
// the plugin's next stream to the wrong id).
const KnockAcceptWait = DialTimeout - time.Second

// WithBroker launches a go-plugin plugin with go-plugin's gRPC broker in
// classic mode, for Broker. Exec targets only; the last of WithBroker and
// WithMultiplexedBroker given applies.
func WithBroker() tether.Option {
	return tether.RuntimeOption("goplugin.WithBroker", func(c *execruntime.Config) {
		c.Broker, c.Multiplex = true, false
	}, "exec")
}

// WithMultiplexedBroker launches a go-plugin plugin with go-plugin's gRPC
// broker in multiplexed mode (go-plugin's GRPCBrokerMultiplex): the host
// sets PLUGIN_MULTIPLEX_GRPC=true, the plugin must answer true in its
// handshake line (go-plugin v1.6 or later; otherwise the launch fails with
// ErrGRPCBrokerMuxNotSupported), and every connection to it, brokered or
// not, is a yamux stream over one connection to its listener. Such a
// plugin cannot be reattached to (Client.ReattachConfig fails). Exec
// targets only.
func WithMultiplexedBroker() tether.Option {
	return tether.RuntimeOption("goplugin.WithMultiplexedBroker", func(c *execruntime.Config) {
		c.Broker, c.Multiplex = true, true
	}, "exec")
}

// brokerHolder is implemented by the instances of the exec runtime.
type brokerHolder interface {
	GoPluginBroker(make func(execruntime.BrokerEnv) (io.Closer, error)) (io.Closer, error)
}

// Broker returns the go-plugin broker of the client's plugin, the same one
// on every call: go-plugin's plugin side serves one broker stream per
// process. It belongs to the running process: it is closed when the
// process exits or the client is closed (after a restart, WithRestart,
// call Broker again for the new process's). It fails with
// ErrBrokerNotEnabled when the plugin was not launched with WithBroker or
// WithMultiplexedBroker, and with ErrNotGoPlugin for a tether plugin.
func Broker(c *tether.Client) (*GRPCBroker, error) {
	if c.Described() {
		return nil, fmt.Errorf("goplugin: plugin %s: %w: it is a tether plugin, which calls its host through tether.WithCallbacks", c.Name(), ErrNotGoPlugin)
	}
	var h brokerHolder
	for _, in := range c.Instances() {
		if hh, ok := in.Instance.(brokerHolder); ok && in.Admitted {
			h = hh
			break
		}
	}
	if h == nil {
		return nil, fmt.Errorf("goplugin: plugin %s: %w: no running process launched by this host", c.Name(), ErrBrokerNotEnabled)
	}
	b, err := h.GoPluginBroker(func(env execruntime.BrokerEnv) (io.Closer, error) { return newBroker(c, env) })
	switch {
	case execruntime.BrokerNotEnabled(err):
		return nil, fmt.Errorf("goplugin: plugin %s: %w: launch it with goplugin.WithBroker()", c.Name(), ErrBrokerNotEnabled)
	case err != nil:
		return nil, fmt.Errorf("goplugin: plugin %s: %w: %v", c.Name(), ErrBrokerClosed, err)
	}
	return b.(*GRPCBroker), nil
}
