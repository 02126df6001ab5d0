// Package netguard bounds what the peers of a gRPC server on the network can
// make it hold: the size of a call's headers, the calls of one connection,
// connections that have not finished their handshake (TLS, then the HTTP/2
// preface), and connections per peer and in all. Network plugins and tether serve put it between their
// listener and their grpc.Server.
package netguard

import (
	"fmt"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"

	"github.com/tetherplug/tether/internal/wire"
)

// Limits bound one server. The zero value of a field means its default.
type Limits struct {
	// MaxHeaderBytes is the most a call's headers (HTTP/2 header list
	// size: names, values and 32 bytes a field) may take; a call with more
	// is reset before it reaches the plugin.
	MaxHeaderBytes uint32
	// MaxStreams is how many calls one connection may have in flight; the
	// server advertises it, and resets the streams of a client that opens
	// more (REFUSED_STREAM).
	MaxStreams uint32
	// HandshakeTimeout is how long a new connection has to finish its TLS
	// handshake and send the HTTP/2 preface before it is closed.
	HandshakeTimeout time.Duration
	// MaxPending is how many connections may be open before the end of
	// their TLS handshake and HTTP/2 preface; a new one over it closes the
	// oldest of them.
	MaxPending int
	// MaxConns is how many connections the server keeps in all; by default
	// 1,024, less when the descriptor limit (RLIMIT_NOFILE) leaves less
	// room.
	MaxConns int
	// MaxConnsPerPeer is how many connections one IP address may have.
	MaxConnsPerPeer int
}

// Defaults of Limits.
const (
	DefaultMaxHeaderBytes   = 16 << 10
	DefaultMaxStreams       = 128
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultMaxPending       = 64
	DefaultMaxConnsPerPeer  = 16
	// maxConnsCeiling is the default of MaxConns when descriptors allow it.
	maxConnsCeiling = 1024
	// reservedFDs are descriptors kept for what is not a connection:
	// standard streams, files, the poller, the plugin's own sockets.
	reservedFDs = 64
)

// Environment variables that set a network plugin's Limits.
const (
	EnvMaxHeaderBytes   = wire.EnvMaxHeaderBytes
	EnvMaxStreams       = wire.EnvMaxStreams
	EnvHandshakeTimeout = wire.EnvHandshakeTimeout
	EnvMaxPending       = wire.EnvMaxPendingConns
	EnvMaxConns         = wire.EnvMaxConns
	EnvMaxConnsPerPeer  = wire.EnvMaxConnsPerPeer
)

// Defaults returns the default limits.
func Defaults() Limits {
	return Limits{}.withDefaults()
}

// DefaultMaxConns is the default of MaxConns: 1,024 connections, or what
// the descriptor limit leaves after a reserve for other files (at least 16).
func DefaultMaxConns() int {
	return maxConnsFor(fdLimit())
}

// maxConnsFor is DefaultMaxConns for a descriptor limit of fds (none when
// !ok).
func maxConnsFor(fds uint64, ok bool) int {
	if !ok || fds >= maxConnsCeiling+reservedFDs {
		return maxConnsCeiling
	}
	return max(int(fds)-reservedFDs, 16)
}

// withDefaults fills the zero fields of l with their defaults.
func (l Limits) withDefaults() Limits {
	if l.MaxHeaderBytes == 0 {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if l.MaxStreams == 0 {
		l.MaxStreams = DefaultMaxStreams
	}
	if l.HandshakeTimeout == 0 {
		l.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if l.MaxPending == 0 {
		l.MaxPending = DefaultMaxPending
	}
	if l.MaxConns == 0 {
		l.MaxConns = DefaultMaxConns()
	}
	if l.MaxConnsPerPeer == 0 {
		l.MaxConnsPerPeer = DefaultMaxConnsPerPeer
	}
	return l
}

// SettingError is a limit set to a value it cannot take.
type SettingError struct {
	Name   string // the environment variable or flag
	Value  string
	Reason string
	Err    error // the parse error, if any
}

func (e *SettingError) Error() string {
	msg := fmt.Sprintf("tether: %s: %q %s", e.Name, e.Value, e.Reason)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *SettingError) Unwrap() error { return e.Err }

// FromEnv returns the default limits with those the environment sets
// (lookup is os.LookupEnv), or a *SettingError naming the first variable
// that is not a positive number (a Go duration for EnvHandshakeTimeout).
func FromEnv(lookup func(string) (string, bool)) (Limits, error) {
	var l Limits
	for _, v := range []struct {
		name string
		u32  *uint32
		n    *int
	}{
		{EnvMaxHeaderBytes, &l.MaxHeaderBytes, nil},
		{EnvMaxStreams, &l.MaxStreams, nil},
		{EnvMaxPending, nil, &l.MaxPending},
		{EnvMaxConns, nil, &l.MaxConns},
		{EnvMaxConnsPerPeer, nil, &l.MaxConnsPerPeer},
	} {
		s, ok := lookup(v.name)
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil || n == 0 {
			return Limits{}, &SettingError{Name: v.name, Value: s, Reason: "is not a whole number from 1 to 4294967295", Err: err}
		}
		if v.u32 != nil {
			*v.u32 = uint32(n)
		} else {
			*v.n = int(n)
		}
	}
	if s, ok := lookup(EnvHandshakeTimeout); ok {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return Limits{}, &SettingError{Name: EnvHandshakeTimeout, Value: s, Reason: "is not a positive duration such as 10s", Err: err}
		}
		l.HandshakeTimeout = d
	}
	return l.withDefaults(), nil
}

// ServerOptions are the grpc.Server options of the guard's limits and of
// the keepalive parameters kp, with creds wrapped so that the guard sees
// each handshake end. Call it before serving; serve on Listener(lis).
//
// Since the guard's connections are not *net.TCPConn, gRPC would not set
// their TCP_USER_TIMEOUT to kp.Timeout (unacknowledged data ends the
// connection as an unanswered ping does): the guard sets it.
func (g *Guard) ServerOptions(creds credentials.TransportCredentials, kp keepalive.ServerParameters) []grpc.ServerOption {
	g.userTimeout = kp.Timeout
	return []grpc.ServerOption{
		grpc.KeepaliveParams(kp),
		grpc.Creds(g.credentials(creds)),
		grpc.MaxHeaderListSize(g.limits.MaxHeaderBytes),
		grpc.MaxConcurrentStreams(g.limits.MaxStreams),
		grpc.ConnectionTimeout(g.limits.HandshakeTimeout),
	}
}
