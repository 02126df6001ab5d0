// Package wire holds tether's wire protocol as data: the environment
// variables of the launch handshake and of network serving, the handshake
// line's format, and the names both sides agree on. It is the twin of
// docs/protocol.md; the root package re-exports what users see
// (protocol.go), and the runtimes below it use it directly.
package wire

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// CoreProtocolVersion is the version of the handshake line itself. It is the
// same as hashicorp/go-plugin's, which is what lets plugins of either system
// load in hosts of the other.
const CoreProtocolVersion = 1

// Environment variables of the launch handshake. The first four are
// go-plugin's and keep their names; the TETHER_ ones are read only by tether
// plugins and ignored by others.
const (
	// EnvProtocolVersions carries the application protocol versions the host
	// accepts, comma separated ("1,2,3").
	EnvProtocolVersions = "PLUGIN_PROTOCOL_VERSIONS"
	// EnvClientCert carries the host's one-time PEM certificate when
	// automatic mutual TLS is on.
	EnvClientCert = "PLUGIN_CLIENT_CERT"
	// EnvUnixSocketDir names the private directory the plugin must create
	// its Unix socket in.
	EnvUnixSocketDir = "PLUGIN_UNIX_SOCKET_DIR"
	// EnvMultiplexGRPC, "true", asks a go-plugin plugin (v1.6 or later) to
	// multiplex every connection, brokered ones included, over the one
	// connection to its listener, and to say it does with a seventh
	// handshake field "true". Hosts set it only when they multiplex (go-plugin's
	// GRPCBrokerMultiplex, tether's goplugin.WithMultiplexedBroker); a tether
	// plugin ignores it.
	EnvMultiplexGRPC = "PLUGIN_MULTIPLEX_GRPC"
	// EnvOwnSocketDir, when it equals EnvUnixSocketDir, hands the directory
	// to the plugin: it removes the directory as well as its socket on exit,
	// so nothing is left behind even when the host was killed.
	EnvOwnSocketDir = "TETHER_OWN_SOCKET_DIR"
	// EnvHostPipe names the file descriptor (always 3) of the read end of a
	// pipe whose write end only the host holds; a tether plugin exits when
	// reading it ends (EOF or error), that is when the host is gone, even
	// when it was started through a wrapper script. Unset when the plugin is
	// to outlive its host.
	EnvHostPipe = "TETHER_HOST_PIPE"
	// EnvOutlive, when "1", tells a tether plugin to keep running when its
	// host exits (for hosts that re-adopt plugins after a restart).
	EnvOutlive = "TETHER_OUTLIVE_HOST"
	// EnvDescribeInHandshake, when "1", asks a tether plugin to put its
	// Describe answer on the handshake line (HandshakeLine.Describe), which
	// spares the host a round trip before the first call. go-plugin hosts
	// never set it, so they never see the extra fields.
	EnvDescribeInHandshake = "TETHER_DESCRIBE_IN_HANDSHAKE"
	// EnvFastTransport, when "1", asks a tether plugin to serve the fast
	// local transport beside gRPC, on a second Unix socket in its private
	// directory, and to name it in its Describe answer.
	EnvFastTransport = "TETHER_FAST_TRANSPORT"
	// EnvTracing, when "1", tells a tether plugin that its host traces
	// (OpenTelemetry): the plugin passes the trace context of the calls it
	// serves on to its callbacks, and exports spans of its own when its
	// OTEL_* variables name an exporter.
	EnvTracing = "TETHER_TRACING"
	// EnvTransport is read by hosts: "grpc" keeps every plugin on gRPC;
	// "fast" or unset uses the fast local transport where a plugin offers it.
	EnvTransport = "TETHER_TRANSPORT"
)

// DefaultMagicCookieKey and DefaultMagicCookieValue make the zero
// HandshakeConfig usable. Applications should choose their own pair so that
// their plugins refuse to be loaded by other applications' hosts.
const (
	DefaultMagicCookieKey   = "TETHER_PLUGIN_MAGIC_COOKIE"
	DefaultMagicCookieValue = "d5e9a0c1f4b7tether"
)

// Environment variables that make a plugin serve on the network instead of
// answering a launching host. They are read at start; none is needed by a
// launched plugin.
const (
	// EnvListen, when set, is the TCP address Serve listens on
	// ("0.0.0.0:7000", "127.0.0.1:0" for any free port). Serve then skips the
	// launch handshake (no magic cookie, nothing on stdout) and logs the
	// address it listens on.
	EnvListen = "TETHER_LISTEN"
	// EnvTLSCert and EnvTLSKey name the PEM files of the server's
	// certificate chain and private key. Required unless EnvInsecure is 1.
	EnvTLSCert = "TETHER_TLS_CERT"
	EnvTLSKey  = "TETHER_TLS_KEY"
	// EnvTLSClientCA names a PEM bundle of the CAs client certificates must
	// chain to: every client must present a certificate that verifies.
	// Required unless EnvTLSNoClientAuth or EnvInsecure is 1.
	EnvTLSClientCA = "TETHER_TLS_CLIENT_CA"
	// EnvTLSNoClientAuth, when 1, serves TLS without asking clients for a
	// certificate (anyone who reaches the port may call).
	EnvTLSNoClientAuth = "TETHER_TLS_NO_CLIENT_AUTH"
	// EnvInsecure, when 1, serves plaintext gRPC and ignores the TLS
	// variables.
	EnvInsecure = "TETHER_INSECURE"
	// EnvShutdownGrace overrides ServeConfig.ShutdownTimeout with a Go
	// duration ("10s"): how long calls in flight may finish after SIGTERM.
	EnvShutdownGrace = "TETHER_SHUTDOWN_GRACE"
	// The limits on what one peer can make a network plugin hold (see
	// docs/network.md): header list size in bytes, calls per connection,
	// time to complete the TLS handshake and HTTP/2 preface (a Go
	// duration), connections not yet through it, connections in all, and
	// connections per peer address.
	EnvMaxHeaderBytes   = "TETHER_MAX_HEADER_BYTES"
	EnvMaxStreams       = "TETHER_MAX_STREAMS"
	EnvHandshakeTimeout = "TETHER_HANDSHAKE_TIMEOUT"
	EnvMaxPendingConns  = "TETHER_MAX_PENDING_CONNS"
	EnvMaxConns         = "TETHER_MAX_CONNS"
	EnvMaxConnsPerPeer  = "TETHER_MAX_CONNS_PER_PEER"
)

// NetworkServing are the variables that make a plugin serve on the network:
// a host that has them in its own environment (a host that is itself
// served on the network) does not pass them on to the plugins it launches.
var NetworkServing = []string{EnvListen, EnvTLSCert, EnvTLSKey, EnvTLSClientCA, EnvTLSNoClientAuth, EnvInsecure, EnvShutdownGrace,
	EnvMaxHeaderBytes, EnvMaxStreams, EnvHandshakeTimeout, EnvMaxPendingConns, EnvMaxConns, EnvMaxConnsPerPeer}

// HealthService is the name under which a plugin reports its health through
// grpc.health.v1, as go-plugin hosts expect.
const HealthService = "plugin"

// FeatureCallbacks is the Describe feature of plugins that serve
// tether.v1.Callbacks/Tunnel.
const FeatureCallbacks = "callbacks"

// FeatureGoPlugin is the Describe feature of a go-plugin plugin behind a
// proxy (tether serve), which answers Describe for it from its handshake.
const FeatureGoPlugin = "goplugin"

// SessionMetadataKey is the gRPC metadata key under which a host that
// provides callbacks sends its session id on every call.
const SessionMetadataKey = "tether-session"

// IsCookieMessage reports whether a plugin's stderr says it refused the
// host's magic cookie (tether's wording or go-plugin's).
func IsCookieMessage(s string) bool {
	return strings.Contains(s, "This binary is a plugin") || strings.Contains(s, "magic cookie")
}

// HandshakeLine is the one line a launched plugin prints on stdout once it
// is ready: CORE|APP|NETWORK|ADDRESS|PROTOCOL|SERVER-CERT, then optionally
// |MULTIPLEX (go-plugin's seventh field, for a host that set
// EnvMultiplexGRPC) and |DESCRIBE (for a tether host that set
// EnvDescribeInHandshake).
type HandshakeLine struct {
	CoreVersion int
	AppVersion  int
	Network     string // "unix" or "tcp"
	Address     string
	Protocol    string // "grpc" (go-plugin's "netrpc" is refused)
	// ServerCert is the plugin's DER certificate for automatic mutual TLS,
	// empty when the connection is plaintext.
	ServerCert []byte
	// Multiplex is the seventh field: the plugin multiplexes its
	// connections (go-plugin's gRPC broker multiplexing), which it does
	// only for a host that asked with EnvMultiplexGRPC. Hosts that did not
	// ask refuse a line that says true.
	Multiplex bool
	// Describe is the plugin's Describe answer, a serialized
	// tether.v1.DescribeResponse, when the host asked for it with
	// EnvDescribeInHandshake; empty otherwise.
	Describe []byte
}

// String formats the line as the plugin prints it, without the newline.
func (h HandshakeLine) String() string {
	cert := ""
	if len(h.ServerCert) > 0 {
		cert = base64.RawStdEncoding.EncodeToString(h.ServerCert)
	}
	s := fmt.Sprintf("%d|%d|%s|%s|%s|%s", h.CoreVersion, h.AppVersion, h.Network, h.Address, h.Protocol, cert)
	mux := ""
	if h.Multiplex {
		mux = "true"
	}
	switch {
	case len(h.Describe) > 0:
		s += "|" + mux + "|" + base64.RawStdEncoding.EncodeToString(h.Describe)
	case h.Multiplex:
		s += "|true"
	}
	return s
}

// MaxHandshakeLine bounds how much of a plugin's first output is read as a
// handshake: a certificate is about 1 KiB, a socket path a few hundred bytes.
const MaxHandshakeLine = 64 << 10

// ParseHandshakeLine parses a plugin's handshake line. It accepts the five
// field form of older go-plugin plugins, the six field form, and the
// optional seventh (MULTIPLEX, a boolean) and eighth (DESCRIBE) fields, and
// returns an error describing the first field that is wrong. Whether a
// multiplexing plugin is welcome is the host's decision, not the parser's.
func ParseHandshakeLine(line string) (HandshakeLine, error) {
	line = strings.TrimRight(line, "\r\n")
	if len(line) > MaxHandshakeLine {
		return HandshakeLine{}, fmt.Errorf("line is %d bytes long, more than a handshake can be", len(line))
	}
	parts := strings.Split(line, "|")
	if len(parts) < 4 {
		return HandshakeLine{}, fmt.Errorf("want fields CORE|APP|NETWORK|ADDRESS|PROTOCOL|CERT separated by '|', got %d field(s)", len(parts))
	}
	if len(parts) > 8 {
		return HandshakeLine{}, fmt.Errorf("want at most 8 '|'-separated fields, got %d", len(parts))
	}
	var h HandshakeLine
	var err error
	if h.CoreVersion, err = strconv.Atoi(parts[0]); err != nil {
		return HandshakeLine{}, fmt.Errorf("core protocol version %q is not a number", parts[0])
	}
	if h.CoreVersion != CoreProtocolVersion {
		return HandshakeLine{}, fmt.Errorf("core protocol version %d is not %d", h.CoreVersion, CoreProtocolVersion)
	}
	if h.AppVersion, err = strconv.Atoi(parts[1]); err != nil || h.AppVersion < 0 {
		return HandshakeLine{}, fmt.Errorf("application protocol version %q is not a number", parts[1])
	}
	h.Network, h.Address = parts[2], parts[3]
	switch h.Network {
	case "unix", "tcp":
	default:
		return HandshakeLine{}, fmt.Errorf("network %q is neither unix nor tcp", h.Network)
	}
	if h.Address == "" {
		return HandshakeLine{}, fmt.Errorf("address is empty")
	}
	h.Protocol = "netrpc" // go-plugin's default when the field is missing
	if len(parts) > 4 {
		h.Protocol = parts[4]
	}
	if h.Protocol != "grpc" {
		return HandshakeLine{}, fmt.Errorf("protocol %q is not grpc (tether loads gRPC plugins only)", h.Protocol)
	}
	if len(parts) > 5 && parts[5] != "" {
		cert, err := base64.RawStdEncoding.DecodeString(parts[5])
		if err != nil {
			cert, err = base64.StdEncoding.DecodeString(parts[5])
		}
		if err != nil {
			return HandshakeLine{}, fmt.Errorf("server certificate is not base64: %v", err)
		}
		h.ServerCert = cert
	}
	if len(parts) > 6 && parts[6] != "" {
		if h.Multiplex, err = strconv.ParseBool(parts[6]); err != nil {
			return HandshakeLine{}, fmt.Errorf("multiplexing field %q is neither true nor false", parts[6])
		}
	}
	if len(parts) > 7 && parts[7] != "" {
		d, err := base64.RawStdEncoding.DecodeString(parts[7])
		if err != nil {
			return HandshakeLine{}, fmt.Errorf("describe field is not base64: %v", err)
		}
		h.Describe = d
	}
	return h, nil
}

// ParseVersions parses a comma-separated version list such as
// PLUGIN_PROTOCOL_VERSIONS. Entries that are not positive numbers are skipped.
func ParseVersions(s string) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err == nil && v > 0 && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// FormatVersions formats versions as a comma-separated list.
func FormatVersions(vs []int) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, ",")
}

// HighestShared returns the highest version in both lists, or 0.
func HighestShared(a, b []int) int {
	best := 0
	for _, v := range a {
		if v > best && slices.Contains(b, v) {
			best = v
		}
	}
	return best
}

// CookieMessage is what a tether plugin prints on stderr when it was run
// without the right magic cookie. Hosts recognise it (and go-plugin's
// wording) to report ErrWrongCookie.
func CookieMessage(key string) string {
	return fmt.Sprintf("This binary is a plugin. These are not meant to be executed directly.\n"+
		"Please execute the program that consumes these plugins, which will load\n"+
		"any plugins automatically. (tether: environment variable %s is missing or wrong.)\n", key)
}
