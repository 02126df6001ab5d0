package tether

import (
	"fmt"
	"os"

	"google.golang.org/grpc"

	"github.com/tetherplug/tether/internal/wire"
)

// Transport names how a host's calls reach a plugin instance.
type Transport string

const (
	// TransportFast is tether's fast local transport: the calls of the same
	// generated gRPC stubs over a light framing on a Unix socket instead of
	// HTTP/2 (docs/protocol.md). A host uses it, by default, with every
	// tether plugin it launches on a Unix socket; for the rest it uses gRPC.
	TransportFast Transport = "fast"
	// TransportGRPC is gRPC over HTTP/2: what go-plugin plugins, network and
	// Kubernetes plugins and hosts that turned the fast transport off use.
	TransportGRPC Transport = "grpc"
)

// EnvTransport is read by hosts when they open a plugin: "grpc" keeps every
// plugin on gRPC, as WithTransport(TransportGRPC) does; "fast" or unset
// leaves the choice to WithTransport (fast where a plugin offers it). Any
// other value fails Open with ErrBadTarget.
const EnvTransport = wire.EnvTransport

// WithTransport chooses the transport of the host's calls to the plugin:
// TransportFast (the default) uses the fast local transport wherever the
// plugin offers it, which a launched tether plugin does, and gRPC
// elsewhere; TransportGRPC uses gRPC always. EnvTransport=grpc overrides
// TransportFast, so an operator can turn the fast transport off without a
// rebuild. Client.Transport says which one carries the calls.
//
// Whatever the transport, the calls go through the same generated stubs and
// keep the same semantics (deadlines, metadata, status details, typed
// errors, callbacks). What only gRPC applies keeps a plugin on gRPC, and
// the host logs why: WithDialOptions (its interceptors and stats handlers
// cannot be read back), and WithRetry for the methods it names. The
// interceptors of WithUnaryInterceptors and WithStreamInterceptors apply on
// both transports.
func WithTransport(t Transport) Option {
	return hostOption(func(o *options) { o.transport = t })
}

// WithUnaryInterceptors adds client interceptors to the host's unary calls
// to the plugin, on either transport. They run outside tether's own, so
// they see its typed errors. Over the fast transport their cc argument is
// nil: there is no *grpc.ClientConn.
func WithUnaryInterceptors(is ...grpc.UnaryClientInterceptor) Option {
	return hostOption(func(o *options) { o.unaryInts = append(o.unaryInts, is...) })
}

// WithStreamInterceptors adds client interceptors to the host's streaming
// calls to the plugin, on either transport, as WithUnaryInterceptors does
// for unary calls.
func WithStreamInterceptors(is ...grpc.StreamClientInterceptor) Option {
	return hostOption(func(o *options) { o.streamInts = append(o.streamInts, is...) })
}

// fastWanted says whether the host may use the fast transport with this
// plugin, and when not and the host asked for it, why not (for the log).
func (o *options) fastWanted() (bool, string, error) {
	switch env := os.Getenv(EnvTransport); env {
	case "", string(TransportFast):
	case string(TransportGRPC):
		return false, "", nil
	default:
		return false, "", fmt.Errorf("%s=%q: want %q or %q", EnvTransport, env, TransportFast, TransportGRPC)
	}
	switch o.transport {
	case "", TransportFast:
	case TransportGRPC:
		return false, "", nil
	default:
		return false, "", fmt.Errorf("WithTransport(%q): want TransportFast or TransportGRPC", o.transport)
	}
	if len(o.dialOptions) > 0 {
		return false, "WithDialOptions was given: its interceptors and stats handlers apply to gRPC only " +
			"(WithUnaryInterceptors and WithStreamInterceptors apply to both transports)", nil
	}
	return true, "", nil
}

// Transport says which transport carries the host's calls to the plugin
// now: TransportFast when an admitted instance is reached over the fast
// local transport, TransportGRPC otherwise.
func (c *Client) Transport() Transport {
	if c.fast != nil && c.fast.any() {
		return TransportFast
	}
	return TransportGRPC
}
