package tether

import (
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc"
)

// Option configures how a host loads a plugin. Most options apply wherever
// the plugin runs; those of one runtime (the Exec options: arguments,
// environment, checksum...) are refused by Open, with an error naming the
// option, for targets of other runtimes.
type Option interface {
	apply(*options)
}

// hostOption applies to every runtime.
type hostOption func(*options)

func (f hostOption) apply(o *options) { f(o) }

// runtimeSetting is an option of the runtimes of some schemes only.
type runtimeSetting struct {
	name    string   // the option's name, for errors: "WithArgs"
	schemes []string // the schemes it applies to
	value   any      // what the runtime reads from RuntimeEnv.Settings
}

func (r runtimeSetting) apply(o *options) { o.settings = append(o.settings, r) }

// RuntimeSetting returns an option for the runtimes of the given schemes
// only: Open passes value to such a runtime in RuntimeEnv.Settings, and
// refuses the option, naming it by name, for a target of any other scheme.
// Runtime packages use it to offer options of their own.
func RuntimeSetting(name string, value any, schemes ...string) Option {
	return runtimeSetting{name: name, schemes: slices.Clone(schemes), value: value}
}

type options struct {
	handshake        HandshakeConfig
	protocolVersions []int
	wants            []Want
	logger           *slog.Logger
	stdout           io.Writer
	stderr           io.Writer
	startTimeout     time.Duration
	killTimeout      time.Duration
	name             string
	dialOptions      []grpc.DialOption
	callbacks        []func(grpc.ServiceRegistrar)
	waitForReady     bool
	settings         []runtimeSetting
	retries          []retryRule
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
		opt.apply(o)
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

// settingsFor returns the runtime settings for scheme, or an error naming
// the first one given that does not apply to it.
func (o *options) settingsFor(t Target) ([]any, error) {
	var out []any
	for _, s := range o.settings {
		if !slices.Contains(s.schemes, t.Scheme) {
			return nil, badTarget(t.Raw, fmt.Sprintf("option %s applies to %s targets only",
				s.name, strings.Join(s.schemes, ", ")), nil)
		}
		out = append(out, s.value)
	}
	return out, nil
}

// WithHandshake sets the magic cookie and protocol version; it must match the
// plugin's ServeConfig.Handshake.
func WithHandshake(h HandshakeConfig) Option { return hostOption(func(o *options) { o.handshake = h }) }

// WithProtocolVersions offers several application protocol versions; the
// plugin picks the highest it also serves.
func WithProtocolVersions(versions ...int) Option {
	return hostOption(func(o *options) { o.protocolVersions = slices.Clone(versions) })
}

// WithInterface asks for an interface at any of the given versions. The
// highest version both sides share is chosen when the plugin loads; none
// shared fails the load with a *VersionError. Every later instance of the
// plugin (a restarted process, another replica) must serve the versions
// chosen then, or it receives no calls. Interfaces not asked for can still
// be dispensed at whatever version the first instance serves.
func WithInterface(name string, versions ...int) Option {
	return hostOption(func(o *options) {
		o.wants = append(o.wants, Want{Interface: name, Versions: slices.Clone(versions)})
	})
}

// WithLogger sets the logger the plugin's output is re-levelled into, with
// attribute plugin=NAME. The default is slog.Default().
func WithLogger(l *slog.Logger) Option { return hostOption(func(o *options) { o.logger = l }) }

// WithStdout sets where lines the plugin prints on stdout after its handshake
// go (for go-plugin plugins, what their stdio stream carries). The default
// logs each at info with stream=stdout.
func WithStdout(w io.Writer) Option { return hostOption(func(o *options) { o.stdout = w }) }

// WithStderr copies each line the plugin prints on stderr, as printed and
// newline included, to w (a log file, say), besides logging it re-levelled
// as always. Writes come from one goroutine per instance, in order.
func WithStderr(w io.Writer) Option { return hostOption(func(o *options) { o.stderr = w }) }

// WithStartTimeout bounds a load, from the start to the first instance that
// answers Describe with fitting versions. The default is 1 minute.
func WithStartTimeout(d time.Duration) Option {
	return hostOption(func(o *options) { o.startTimeout = d })
}

// WithKillTimeout bounds each step of Kill: the graceful shutdown, then
// SIGTERM, before SIGKILL. The default is 2 seconds.
func WithKillTimeout(d time.Duration) Option {
	return hostOption(func(o *options) { o.killTimeout = d })
}

// WithName sets the plugin's name in logs and errors. The default is the
// binary's file name, or the target.
func WithName(name string) Option { return hostOption(func(o *options) { o.name = name }) }

// WithDialOptions adds gRPC dial options, such as interceptors (which run
// outside tether's own, so they see its typed errors) or keepalive
// parameters. Options that would replace what tether's connection is made
// of (its resolver, dialer, transport credentials and load-balancing policy)
// have no effect: the runtime decides where and how each instance is
// reached.
func WithDialOptions(opts ...grpc.DialOption) Option {
	return hostOption(func(o *options) { o.dialOptions = append(o.dialOptions, opts...) })
}

// WithWaitForReady makes calls made while no instance is reachable (a
// plugin being restarted, a replica set being replaced) wait for one until
// their deadline, instead of failing at once with ErrUnavailable.
func WithWaitForReady() Option { return hostOption(func(o *options) { o.waitForReady = true }) }

// WithCallbacks gives the plugin services the host implements: register is
// called with a registrar for generated RegisterXxxServer functions. The
// plugin reaches them through its HostConn, over the connection the host
// opened; nothing new listens on either side.
func WithCallbacks(register func(grpc.ServiceRegistrar)) Option {
	return hostOption(func(o *options) { o.callbacks = append(o.callbacks, register) })
}
