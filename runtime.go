package tether

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// A runtime starts or finds the instances of a plugin and reports the
// endpoints they answer on. Where a plugin runs is the runtime's business;
// everything else (the handshake RPC, version negotiation, balancing,
// callbacks, typed errors) is the Client's, the same for every runtime.
//
// Runtimes are registered by target scheme, in the spirit of grpc-go's
// resolver.Builder: a path or exec:///path is the exec runtime, built in;
// others register with RegisterRuntime, usually from an init function of the
// package that implements them, and are then reachable through Open.

// Target is a parsed plugin target: "exec:///abs/path", "tcp://h1:7000,h2:7000",
// "kube://namespace/name", or a bare path, which is Scheme "exec".
type Target struct {
	Raw       string // as given
	Scheme    string // "exec" for a bare path
	Authority string // what follows "//" up to the next "/" ("" for exec)
	Path      string // for exec, the program's path exactly as it is to be run
}

// String returns the target as given.
func (t Target) String() string { return t.Raw }

// ParseTarget parses a target. A string without "://" is a path to a local
// program. A path without a slash is taken relative to the working
// directory, never looked up in $PATH.
func ParseTarget(s string) (Target, error) {
	if s == "" {
		return Target{}, badTarget(s, "it is empty", nil)
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || strings.ContainsAny(scheme, "/.") {
		return Target{Raw: s, Scheme: "exec", Path: s}, nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return Target{}, badTarget(s, "it is not a URL", err)
	}
	t := Target{Raw: s, Scheme: strings.ToLower(scheme), Authority: u.Host, Path: u.Path}
	if t.Scheme == "exec" {
		if u.Host != "" || !strings.HasPrefix(rest, "/") {
			return Target{}, badTarget(s, "an exec target is exec:///absolute/path", nil)
		}
		t.Path = rest
	}
	return t, nil
}

// Endpoint is one address a plugin instance answers on, as a runtime
// reports it.
type Endpoint struct {
	// Network is "unix" or "tcp"; Address is a socket path or host:port.
	Network, Address string
	// Creds secures the connection; nil means plaintext, which a runtime
	// offers only for Unix sockets in private directories or on an
	// explicit opt-in.
	Creds credentials.TransportCredentials
	// ServerName is the name the instance's certificate must carry, and the
	// HTTP/2 authority of its calls; empty means "localhost", the name of
	// the exec runtime's one-time certificates.
	ServerName string
	// ProtocolVersion is the application protocol version when the runtime
	// learned it (the exec runtime, from the handshake line); 0 otherwise.
	ProtocolVersion int
	// FailFast ends a load at the first failed connection to this endpoint
	// instead of retrying: a launched plugin listens before it prints its
	// handshake, so a failure will not get better.
	FailFast bool
	// Replaceable: the runtime starts another instance when this one ends,
	// so a call cut off by its end is ErrUnavailable, not ErrPluginExited.
	Replaceable bool
	// Instance is the running copy behind the endpoint, nil when the
	// runtime knows nothing of it (a remote address).
	Instance Instance
	// HealthChecked makes the connection watch the instance's
	// grpc.health.v1 status (gRPC's client-side health checking): while it
	// is not SERVING (a plugin draining on SIGTERM) it takes no new calls.
	// For instances whose end the runtime cannot see, such as remote ones.
	HealthChecked bool

	// Dial, when set, opens each connection to the instance in place of
	// dialling Network and Address, which then only name the endpoint (in
	// the client's keys, logs and Instances): for a runtime that reaches
	// its instances through a tunnel, as the kube runtime reaches pods
	// through the API server's port-forward. Creds' handshake runs over the
	// connection it returns as over a dialled one; ctx bounds the dial.
	Dial func(ctx context.Context) (net.Conn, error)

	// Describe is the instance's Describe answer (a serialized
	// tether.v1.DescribeResponse) when the runtime already has it, as the
	// exec runtime does from the handshake line: the client then spares the
	// Describe call. Empty: the client asks.
	Describe []byte
}

// key identifies an endpoint in the client's connection.
func (e Endpoint) key() string { return e.Network + ":" + e.Address }

// Instance is one running copy of a plugin as far as its runtime knows it.
type Instance interface {
	// Pid is the process id, or 0 when there is no local process.
	Pid() int
	// Exited is closed when the instance has ended; nil when the runtime
	// cannot know (a remote address).
	Exited() <-chan struct{}
	// ExitError says how it ended, nil while it runs.
	ExitError() error
}

// EndpointSink receives a runtime's endpoints. Each UpdateEndpoints
// replaces the whole set; an empty set means no instance is reachable now
// (calls then fail fast with ErrUnavailable, or wait if the host asked so).
// Ended says the runtime will report no more endpoints, and why (the last
// instance's exit error, nil after Close).
type EndpointSink interface {
	UpdateEndpoints([]Endpoint)
	Ended(err error)
}

// RuntimeEnv is what Open gives a runtime to build with. What only some
// runtimes use (a launched program's arguments, where its output goes, a
// cluster's credentials) is not here: it comes as the runtime's own
// options, read with ApplyRuntimeOptions.
type RuntimeEnv struct {
	Name             string // the plugin's name in logs and errors
	Logger           *slog.Logger
	ProtocolVersions []int // the application protocol versions the host accepts
	// StartTimeout bounds a load; the context given to Build ends with
	// cause ErrStartTimeout when it passes (context.Cause tells it from the
	// caller's own deadline). A runtime that starts instances later (a
	// restart) bounds each start by it.
	StartTimeout time.Duration
	// Endpoints receives the runtime's endpoints for as long as it runs.
	Endpoints EndpointSink
	// FastTransport: the host uses the fast local transport where an
	// instance offers it. A runtime that launches tether plugins on Unix
	// sockets asks them to offer it (EnvFastTransport=1).
	FastTransport bool
	// Tracing: the host traces its calls (WithTracing). A runtime that
	// launches tether plugins tells them so (EnvTracing=1).
	Tracing bool

	settings []runtimeSetting // the runtime's own options, in the order given
}

// RuntimeBuilder makes runtimes for the targets of one scheme.
type RuntimeBuilder interface {
	// Scheme is the target scheme the builder serves, e.g. "exec", "tcp".
	Scheme() string
	// Build starts or finds the plugin's instances. It may report endpoints
	// through env.Endpoints before it returns, and later as they change.
	// Errors should be *PluginError values.
	Build(ctx context.Context, t Target, env RuntimeEnv) (Runtime, error)
}

// UnavailableExplainer is implemented by a Runtime that can say why it has
// no instance to offer better than the client's last connection error (a
// Kubernetes Service that lists no ready endpoint, say, rather than a stale
// "connection refused" from a pod that is gone). A call that finds no
// instance fails with ErrUnavailable wrapping Unavailable's error; nil
// leaves the client's own cause.
type UnavailableExplainer interface {
	Unavailable() error
}

// RuntimeDialOptions is implemented by a RuntimeBuilder whose plugins'
// connections want gRPC dial options of their own, such as keepalive and a
// reconnection backoff for instances across a network. They apply before
// the host's WithDialOptions, which thus override them.
type RuntimeDialOptions interface {
	DialOptions() []grpc.DialOption
}

// Runtime is the running side of one loaded plugin.
type Runtime interface {
	// Close stops what the runtime started (or lets it outlive the host, as
	// it was asked) and reports no more endpoints. stop asks one instance to
	// shut down gracefully over its connection; the runtime calls it before
	// signalling processes. It returns nil once everything it started is
	// gone.
	Close(ctx context.Context, stop func(context.Context, Endpoint) error) error
}

var (
	runtimesMu sync.RWMutex
	runtimes   = map[string]RuntimeBuilder{}
)

// RegisterRuntime makes a runtime available by its scheme, replacing any
// registered before under the same scheme. It is meant to be called from
// init functions.
func RegisterRuntime(b RuntimeBuilder) {
	runtimesMu.Lock()
	defer runtimesMu.Unlock()
	runtimes[strings.ToLower(b.Scheme())] = b
}

// Runtimes lists the registered schemes, sorted.
func Runtimes() []string {
	runtimesMu.RLock()
	defer runtimesMu.RUnlock()
	return slices.Sorted(maps.Keys(runtimes))
}

func lookupRuntime(scheme string) (RuntimeBuilder, string) {
	runtimesMu.RLock()
	b, ok := runtimes[scheme]
	runtimesMu.RUnlock()
	if ok {
		return b, ""
	}
	return nil, fmt.Sprintf("no runtime is registered for scheme %q (registered: %s)", scheme, strings.Join(Runtimes(), ", "))
}

// badTarget is the error of a target that cannot be loaded as given.
func badTarget(target, detail string, err error) *PluginError {
	return &PluginError{Plugin: target, Kind: ErrBadTarget, Detail: detail, Err: err}
}

// Optional capabilities, in the manner of net/http's Flusher and Hijacker:
// a Runtime or an Instance implements them when it can, and the Client
// finds them with a type assertion to the interface, never to a concrete
// type. The exec runtime implements all of them; other runtimes may.

// Detacher is implemented by a Runtime that can let go of its plugin
// without stopping it (Client.Detach).
type Detacher interface {
	// Detach stops watching and restarting, leaving what runs running. It
	// fails, changing nothing, when the runtime was not asked to let its
	// plugin outlive the host.
	Detach() error
}

// Reattacher is implemented by a Runtime whose running plugin another host
// process can attach to (Client.ReattachConfig, Attach).
type Reattacher interface {
	// ReattachConfig describes how to attach to the running plugin, which
	// the client has admitted with the versions of n.
	ReattachConfig(n Negotiated) (ReattachConfig, error)
}

// Negotiated is what a Client settled with its plugin's first instance.
type Negotiated struct {
	Plugin          string         // the plugin's name in logs and errors
	ProtocolVersion int            // the application protocol version
	Interfaces      map[string]int // each interface served, with the version in use
}

// HandshakeReporter is implemented by an Instance that printed a go-plugin
// handshake line when it was launched (Client.Handshake).
type HandshakeReporter interface {
	Handshake() HandshakeLine
}

// OutputSink is implemented by an Instance that takes what its plugin
// sends over go-plugin's stdio stream (plugin.GRPCStdio), line by line,
// newline included, so that it goes where the plugin's own stdout and
// stderr go. Without it the client logs the lines.
type OutputSink interface {
	StdoutLine(line string)
	StderrLine(line string)
}
