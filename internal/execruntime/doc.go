// Package execruntime runs plugins as local processes: it launches a
// program with tether's environment, reads and checks its go-plugin
// handshake line, makes the private directory of its socket, restarts it
// when asked, follows its spool files, and builds and attaches through
// reattach configs.
//
// It knows nothing of the tether package: the tether package's exec
// adapter (exec.go) registers it as the runtime of exec targets, turns its
// options into a Config, its endpoints into tether.Endpoints and its
// *Error values into tether's typed errors, and reaches the client only
// through the public seams every runtime has (RuntimeBuilder,
// EndpointSink, the optional Detacher, Reattacher, HandshakeReporter and
// OutputSink). The operating system's part (starting, signalling, exit
// detection, spool files) is package proc's.
package execruntime

import (
	"context"
	"io"
	"log/slog"
	"net"
	"time"

	"google.golang.org/grpc/credentials"
)

// Env is what a load gives the runtime.
type Env struct {
	Name             string // the plugin's name in logs and errors
	Logger           *slog.Logger
	ProtocolVersions []int // the application protocol versions the host accepts
	StartTimeout     time.Duration
	// StartDeadline is the cause with which a load's context ends at its
	// start timeout, told apart from the caller's own deadline.
	StartDeadline error
	// Report replaces the set of endpoints (none: no instance runs now).
	Report func([]Endpoint)
	// Ended says no endpoint will come any more, and why (the last
	// instance's exit, nil after Close).
	Ended func(error)
	// Fast asks launched plugins to serve the fast local transport too
	// (wire.EnvFastTransport=1); otherwise it is set to 0.
	Fast bool
	// Tracing tells launched plugins that the host traces its calls
	// (wire.EnvTracing=1); otherwise the variable is not set. The host's
	// OTEL_* variables reach them with the rest of its environment.
	Tracing bool
}

// Config is one load's exec settings.
type Config struct {
	Path     string   // the program, run as given (never looked up in $PATH)
	Args     []string // its arguments
	Env      []string // KEY=VALUE entries added to the host's environment
	Checksum []byte   // the SHA-256 the file must have; nil: not checked
	AutoMTLS bool     // one-time certificates for mutual TLS
	Outlive  bool     // the plugin may outlive its host
	Restart  bool     // start it again whenever it exits while open
	SpoolDir string   // its stdout and stderr go to spool files there
	// Stdout receives what it prints on stdout after its handshake; nil:
	// logged. Stderr receives a copy of each raw stderr line; nil: none.
	Stdout, Stderr io.Writer
	// KillTimeout bounds each step of a stop: the graceful shutdown, then
	// SIGTERM, before SIGKILL.
	KillTimeout time.Duration
	// CookieKey and CookieValue are the magic cookie the plugin checks.
	CookieKey, CookieValue string
	// Broker keeps what go-plugin's broker needs (BrokerEnv) for the
	// goplugin package; Multiplex also asks the plugin to multiplex
	// (wire.EnvMultiplexGRPC) and refuses one that does not.
	Broker, Multiplex bool
	// OnStart, when set, is called with each process's pid and socket
	// directory as soon as it runs, before its handshake.
	OnStart func(pid int, socketDir string)
}

// Endpoint is the address one instance answers on.
type Endpoint struct {
	Network, Address string
	Creds            credentials.TransportCredentials // nil: plaintext
	ServerName       string                           // empty: "localhost"
	ProtocolVersion  int
	Describe         []byte  // its serialized Describe answer, if it printed one
	Instance         Process // nil without a known process
	// Dial, when set, opens each connection to the instance (a stream of
	// the multiplexed session) instead of dialling Network and Address.
	Dial func(ctx context.Context) (net.Conn, error)
}

// Process is a running plugin process: one this host launched (*Instance)
// or one it attached to (*Attached).
type Process interface {
	Pid() int
	Exited() <-chan struct{}
	// ExitError is how it ended (an *Error of KindPluginExited), nil while
	// it runs.
	ExitError() error
}
