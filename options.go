package tether

import (
	"fmt"
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

// runtimeSetting is an option of some runtimes only: set is a func(*C)
// for the configuration type C of the runtimes that read it.
type runtimeSetting struct {
	name    string   // the option's name, for errors: "WithArgs"
	schemes []string // the schemes it applies to
	any     bool     // every scheme takes it (WithHandshake's cookie)
	set     any
}

func (r runtimeSetting) apply(o *options) { o.settings = append(o.settings, r) }

// RuntimeOption returns an option of the runtimes of the given schemes
// only: set changes such a runtime's configuration, of a type C of the
// runtime's own, which the runtime reads back with ApplyRuntimeOptions.
// Open refuses the option for a target of any other scheme, with an error
// naming it by name ("kube.WithDeploy"). One option may set several fields;
// options apply in the order the host gave them. Runtime packages use it
// to offer options of their own.
func RuntimeOption[C any](name string, set func(*C), schemes ...string) Option {
	return runtimeSetting{name: name, schemes: slices.Clone(schemes), set: set}
}

// ApplyRuntimeOptions applies to cfg, in the order the host gave them,
// the options of configuration type C (see RuntimeOption) among those Open
// passed to the runtime in env. Options of other types are left alone: a
// runtime may read several configuration types, such as one of its own and
// one it shares with other runtimes.
func ApplyRuntimeOptions[C any](env RuntimeEnv, cfg *C) {
	for _, s := range env.settings {
		if set, ok := s.set.(func(*C)); ok {
			set(cfg)
		}
	}
}

type options struct {
	handshake        HandshakeConfig
	protocolVersions []int
	wants            []Want
	logger           *slog.Logger
	startTimeout     time.Duration
	name             string
	dialOptions      []grpc.DialOption
	callbacks        []func(grpc.ServiceRegistrar)
	waitForReady     bool
	settings         []runtimeSetting
	runtimes         []RuntimeBuilder // WithRuntime's, before the registry
	retries          []retryRule
	transport        Transport // WithTransport's; "" is TransportFast
	unaryInts        []grpc.UnaryClientInterceptor
	streamInts       []grpc.StreamClientInterceptor
	tracing          *tracing   // WithTracing's; nil: no spans
	observers        []Observer // WithObserver's
}

// Want is an interface a host asks a plugin for, with the versions the host
// accepts.
type Want struct {
	Interface string
	Versions  []int
}

func buildOptions(opts []Option) *options {
	o := &options{startTimeout: time.Minute}
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

// settingsFor returns the runtime settings for t's scheme, or an error
// naming the first one given that does not apply to it.
func (o *options) settingsFor(t Target) ([]runtimeSetting, error) {
	for _, s := range o.settings {
		if !s.any && !slices.Contains(s.schemes, t.Scheme) {
			return nil, badTarget(t.Raw, fmt.Sprintf("option %s applies to %s targets only",
				s.name, strings.Join(s.schemes, ", ")), nil)
		}
	}
	return o.settings, nil
}

// runtimeFor returns the builder for t's scheme: one given WithRuntime, or
// the registered one.
func (o *options) runtimeFor(t Target) (RuntimeBuilder, string) {
	for _, b := range slices.Backward(o.runtimes) {
		if strings.EqualFold(b.Scheme(), t.Scheme) {
			return b, ""
		}
	}
	return lookupRuntime(t.Scheme)
}

// WithRuntime makes Open use b for targets of b's scheme, for this load
// only, before any runtime registered under that scheme: in the spirit of
// grpc.WithResolvers. Attach is Open with the runtime of one reattach
// config given so.
func WithRuntime(b RuntimeBuilder) Option {
	return hostOption(func(o *options) { o.runtimes = append(o.runtimes, b) })
}

// WithHandshake sets the magic cookie and protocol version; it must match the
// plugin's ServeConfig.Handshake.
//
// The protocol version applies to every target. The magic cookie is what a
// plugin launched by the host checks in its environment (exec targets); a
// plugin reached over the network has no environment from its host, and
// mutual TLS says who may call it there.
func WithHandshake(h HandshakeConfig) Option {
	return optionList{hostOption(func(o *options) { o.handshake = h }), cookieOption(h.withDefaults())}
}

// optionList applies several options as one.
type optionList []Option

func (l optionList) apply(o *options) {
	for _, opt := range l {
		opt.apply(o)
	}
}

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

// WithStartTimeout bounds a load, from the start to the first instance that
// answers Describe with fitting versions. The default is 1 minute.
func WithStartTimeout(d time.Duration) Option {
	return hostOption(func(o *options) { o.startTimeout = d })
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
