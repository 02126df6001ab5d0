package tether

import "github.com/tetherplug/tether/internal/wire"

// The wire protocol's constants, all in one place: the twin of
// docs/protocol.md. They are defined in internal/wire, which the runtimes
// below this package share, and re-exported here for plugins, hosts and
// other implementations of the protocol.

// CoreProtocolVersion is the version of the handshake line itself. It is the
// same as hashicorp/go-plugin's, which is what lets plugins of either system
// load in hosts of the other.
const CoreProtocolVersion = wire.CoreProtocolVersion

// Environment variables of the launch handshake. The first four are
// go-plugin's and keep their names; the TETHER_ ones are read only by tether
// plugins and ignored by others.
const (
	// EnvProtocolVersions carries the application protocol versions the host
	// accepts, comma separated ("1,2,3").
	EnvProtocolVersions = wire.EnvProtocolVersions
	// EnvClientCert carries the host's one-time PEM certificate when
	// automatic mutual TLS is on.
	EnvClientCert = wire.EnvClientCert
	// EnvUnixSocketDir names the private directory the plugin must create
	// its Unix socket in.
	EnvUnixSocketDir = wire.EnvUnixSocketDir
	// EnvMultiplexGRPC is set to "true" by hosts that multiplex (go-plugin's
	// GRPCBrokerMultiplex, tether's goplugin.WithMultiplexedBroker); a
	// tether plugin ignores it.
	EnvMultiplexGRPC = wire.EnvMultiplexGRPC
	// EnvOwnSocketDir, when it equals EnvUnixSocketDir, hands the directory
	// to the plugin: it removes the directory as well as its socket on exit.
	EnvOwnSocketDir = wire.EnvOwnSocketDir
	// EnvHostPipe names the file descriptor (always 3) of the read end of a
	// pipe whose write end only the host holds; a tether plugin exits when
	// reading it ends, that is when the host is gone. Unset when the plugin
	// is to outlive its host.
	EnvHostPipe = wire.EnvHostPipe
	// EnvOutlive, when "1", tells a tether plugin to keep running when its
	// host exits (for hosts that re-adopt plugins after a restart).
	EnvOutlive = wire.EnvOutlive
	// EnvDescribeInHandshake, when "1", asks a tether plugin to put its
	// Describe answer on the handshake line (HandshakeLine.Describe).
	EnvDescribeInHandshake = wire.EnvDescribeInHandshake
	// EnvFastTransport, when "1", asks a tether plugin to serve the fast
	// local transport beside gRPC and to name its socket in Describe (see
	// docs/protocol.md, "The fast local transport").
	EnvFastTransport = wire.EnvFastTransport
	// EnvTracing, when "1", tells a tether plugin that its host traces
	// calls (WithTracing): see docs/observability.md.
	EnvTracing = wire.EnvTracing
)

// Environment variables that make Serve serve on the network instead of
// answering a launching host (see docs/network.md).
const (
	// EnvListen, when set, is the TCP address Serve listens on
	// ("0.0.0.0:7000", "127.0.0.1:0" for any free port). Serve then skips the
	// launch handshake (no magic cookie, nothing on stdout) and logs the
	// address it listens on.
	EnvListen = wire.EnvListen
	// EnvTLSCert and EnvTLSKey name the PEM files of the server's
	// certificate chain and private key. Required unless EnvInsecure is 1.
	EnvTLSCert = wire.EnvTLSCert
	EnvTLSKey  = wire.EnvTLSKey
	// EnvTLSClientCA names a PEM bundle of the CAs client certificates must
	// chain to. Required unless EnvTLSNoClientAuth or EnvInsecure is 1.
	EnvTLSClientCA = wire.EnvTLSClientCA
	// EnvTLSNoClientAuth, when 1, serves TLS without asking clients for a
	// certificate (anyone who reaches the port may call).
	EnvTLSNoClientAuth = wire.EnvTLSNoClientAuth
	// EnvInsecure, when 1, serves plaintext gRPC and ignores the TLS
	// variables.
	EnvInsecure = wire.EnvInsecure
	// EnvShutdownGrace overrides ServeConfig.ShutdownTimeout with a Go
	// duration ("10s"): how long calls in flight may finish after SIGTERM.
	EnvShutdownGrace = wire.EnvShutdownGrace
	// EnvMaxHeaderBytes, EnvMaxStreams, EnvHandshakeTimeout,
	// EnvMaxPendingConns, EnvMaxConns and EnvMaxConnsPerPeer bound what one
	// peer can make a network plugin hold: header list size, calls per
	// connection, time to complete the TLS handshake and HTTP/2 preface,
	// connections not yet through it, connections in all and per address.
	// See docs/network.md for their defaults.
	EnvMaxHeaderBytes   = wire.EnvMaxHeaderBytes
	EnvMaxStreams       = wire.EnvMaxStreams
	EnvHandshakeTimeout = wire.EnvHandshakeTimeout
	EnvMaxPendingConns  = wire.EnvMaxPendingConns
	EnvMaxConns         = wire.EnvMaxConns
	EnvMaxConnsPerPeer  = wire.EnvMaxConnsPerPeer
)

// HealthService is the name under which a plugin reports its health through
// grpc.health.v1, as go-plugin hosts expect.
const HealthService = wire.HealthService

// FeatureCallbacks is the Describe feature of plugins that serve
// tether.v1.Callbacks/Tunnel.
const FeatureCallbacks = wire.FeatureCallbacks

// FeatureGoPlugin is the Describe feature of a go-plugin plugin behind a
// proxy (tether serve), which answers Describe for it from its handshake:
// protocol_versions holds the handshake's one application protocol
// version, which stands for the version of every interface, and the answer
// lists no interfaces. A host treats such an instance exactly as a
// go-plugin plugin it launched itself, except that it opens no stdio
// stream (the proxy keeps the plugin's output).
const FeatureGoPlugin = wire.FeatureGoPlugin

// SessionMetadataKey is the gRPC metadata key under which a host that
// provides callbacks sends its session id on every call it makes to a
// plugin, the Callbacks/Tunnel stream included (a host without callbacks
// sends none: there is nothing to route to it). A session id is 32
// lowercase hexadecimal characters (128 random bits) and names one host
// client for as long as it is open.
const SessionMetadataKey = wire.SessionMetadataKey

// DefaultMagicCookieKey and DefaultMagicCookieValue make the zero
// HandshakeConfig usable. Applications should choose their own pair so that
// their plugins refuse to be loaded by other applications' hosts.
const (
	DefaultMagicCookieKey   = wire.DefaultMagicCookieKey
	DefaultMagicCookieValue = wire.DefaultMagicCookieValue
)

// HandshakeConfig is what a host and its plugins agree on before anything
// else: a magic cookie, an environment variable whose value proves the plugin
// was launched by a host of the right application, and the application's
// protocol version. It matches go-plugin's HandshakeConfig field by field.
// The zero value uses the default cookie and protocol version 1.
type HandshakeConfig struct {
	// ProtocolVersion is the application's protocol version. A host offers
	// it unless it lists several with WithProtocolVersions; a plugin serves
	// it unless ServeConfig.ProtocolVersions lists several.
	ProtocolVersion int
	// MagicCookieKey and MagicCookieValue: the host sets the variable, the
	// plugin refuses to run without it.
	MagicCookieKey   string
	MagicCookieValue string
}

func (h HandshakeConfig) withDefaults() HandshakeConfig {
	if h.MagicCookieKey == "" {
		h.MagicCookieKey = DefaultMagicCookieKey
	}
	if h.MagicCookieValue == "" {
		h.MagicCookieValue = DefaultMagicCookieValue
	}
	if h.ProtocolVersion <= 0 {
		h.ProtocolVersion = 1
	}
	return h
}

// HandshakeLine is the one line a launched plugin prints on stdout once it
// is ready: CORE|APP|NETWORK|ADDRESS|PROTOCOL|SERVER-CERT, then optionally
// |MULTIPLEX (go-plugin's seventh field, true only for a host that asked
// for multiplexing) and |DESCRIBE (for a tether host that asked for it).
type HandshakeLine = wire.HandshakeLine

// ParseHandshakeLine parses a plugin's handshake line. It accepts the five
// field form of older go-plugin plugins, the six field form and the
// optional MULTIPLEX and DESCRIBE fields, and returns an error describing
// the first field that is wrong.
func ParseHandshakeLine(line string) (HandshakeLine, error) { return wire.ParseHandshakeLine(line) }
