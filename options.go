package tether

import (
	"io"
	"log/slog"
	"slices"
	"time"

	"google.golang.org/grpc"
)

// Option configures how a host loads a plugin.
type Option func(*options)

type options struct {
	handshake        HandshakeConfig
	protocolVersions []int
	wants            []Want
	logger           *slog.Logger
	stdout           io.Writer
	startTimeout     time.Duration
	killTimeout      time.Duration
	checksum         []byte
	autoMTLS         bool
	name             string
	args             []string
	env              []string
	outlive          bool
	dialOptions      []grpc.DialOption
	callbacks        []func(grpc.ServiceRegistrar)
}

// Want is an interface a host asks a plugin for, with the versions the host
// accepts.
type Want struct {
	Interface string
	Versions  []int
}

func buildOptions(opts []Option) *options {
	o := &options{startTimeout: time.Minute, killTimeout: 2 * time.Second}
	for _, opt := range opts {
		opt(o)
	}
	o.handshake = o.handshake.withDefaults()
	if len(o.protocolVersions) == 0 {
		o.protocolVersions = []int{o.handshake.ProtocolVersion}
	}
	if o.logger == nil {
		o.logger = slog.Default()
	}
	return o
}

// WithHandshake sets the magic cookie and protocol version; it must match the
// plugin's ServeConfig.Handshake.
func WithHandshake(h HandshakeConfig) Option { return func(o *options) { o.handshake = h } }

// WithProtocolVersions offers several application protocol versions; the
// plugin picks the highest it also serves.
func WithProtocolVersions(versions ...int) Option {
	return func(o *options) { o.protocolVersions = slices.Clone(versions) }
}

// WithInterface asks for an interface at any of the given versions. The
// highest version both sides share is chosen when the plugin loads; none
// shared fails the load with a *VersionError. Interfaces not asked for can
// still be dispensed at whatever version the plugin serves.
func WithInterface(name string, versions ...int) Option {
	return func(o *options) { o.wants = append(o.wants, Want{Interface: name, Versions: slices.Clone(versions)}) }
}

// WithLogger sets the logger the plugin's stderr is re-levelled into, with
// attribute plugin=NAME. The default is slog.Default().
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithStdout sets where lines the plugin prints on stdout after its handshake
// go. The default logs each at info with stream=stdout.
func WithStdout(w io.Writer) Option { return func(o *options) { o.stdout = w } }

// WithStartTimeout bounds launch to first handshake. The default is 1 minute.
func WithStartTimeout(d time.Duration) Option { return func(o *options) { o.startTimeout = d } }

// WithKillTimeout bounds each step of Kill: the graceful shutdown, then
// SIGTERM, before SIGKILL. The default is 2 seconds.
func WithKillTimeout(d time.Duration) Option { return func(o *options) { o.killTimeout = d } }

// WithChecksum refuses to run the binary unless its SHA-256 is sum.
func WithChecksum(sum []byte) Option { return func(o *options) { o.checksum = slices.Clone(sum) } }

// WithAutoMTLS turns on automatic mutual TLS: one-time certificates on each
// side, exchanged through the environment and the handshake line.
func WithAutoMTLS() Option { return func(o *options) { o.autoMTLS = true } }

// WithName sets the plugin's name in logs and errors. The default is the
// binary's file name.
func WithName(name string) Option { return func(o *options) { o.name = name } }

// WithArgs sets the plugin's command-line arguments.
func WithArgs(args ...string) Option { return func(o *options) { o.args = slices.Clone(args) } }

// WithEnv adds KEY=VALUE entries to the plugin's environment, which otherwise
// is the host's.
func WithEnv(env ...string) Option { return func(o *options) { o.env = append(o.env, env...) } }

// WithOutliveHost lets the plugin keep running after the host exits, for
// hosts that re-adopt their plugins after a restart.
func WithOutliveHost() Option { return func(o *options) { o.outlive = true } }

// WithDialOptions adds gRPC dial options, such as interceptors.
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(o *options) { o.dialOptions = append(o.dialOptions, opts...) }
}

// WithCallbacks gives the plugin services the host implements: register is
// called with a registrar for generated RegisterXxxServer functions. The
// plugin reaches them through its HostConn, over the connection the host
// opened; nothing new listens on either side.
func WithCallbacks(register func(grpc.ServiceRegistrar)) Option {
	return func(o *options) { o.callbacks = append(o.callbacks, register) }
}
