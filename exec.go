package tether

import (
	"context"
	"errors"
	"io"
	"slices"
	"time"

	"github.com/tetherplug/tether/internal/execruntime"
)

// The exec runtime: a path or exec:///path launches a local program. Its
// implementation is package internal/execruntime; this file is its adapter
// to the public runtime seams (RegisterRuntime, EndpointSink and the
// optional Detacher, Reattacher, HandshakeReporter and OutputSink), its
// options, and the mapping of its failures to tether's typed errors.

// execScheme is the scheme of local programs: a bare path, or exec:///path.
const execScheme = "exec"

// reattachScheme is the scheme of Attach's targets, reattach:///socket or
// reattach://127.0.0.1:PORT. No runtime is registered under it: Attach
// gives Open the runtime of its config with WithRuntime.
const reattachScheme = "reattach"

func init() { RegisterRuntime(execBuilder{}) }

// execOption is an option of exec targets only.
func execOption(name string, f func(*execruntime.Config)) Option {
	return RuntimeOption(name, f, execScheme)
}

// outputOption is an option of where a local plugin's output goes: exec
// targets, and Attach's, whose output may come through spool files.
func outputOption(name string, f func(*execruntime.Config)) Option {
	return RuntimeOption(name, f, execScheme, reattachScheme)
}

// execConfig reads a load's exec settings, with their defaults.
func execConfig(env RuntimeEnv, path string) execruntime.Config {
	cfg := execruntime.Config{Path: path, KillTimeout: 2 * time.Second, AutoMTLS: execruntime.DefaultAutoMTLS,
		CookieKey: DefaultMagicCookieKey, CookieValue: DefaultMagicCookieValue}
	ApplyRuntimeOptions(env, &cfg)
	return cfg
}

// execEnv is what the exec runtime needs of a load.
func execEnv(env RuntimeEnv) execruntime.Env {
	return execruntime.Env{Name: env.Name, Logger: env.Logger, ProtocolVersions: env.ProtocolVersions,
		StartTimeout: env.StartTimeout, StartDeadline: ErrStartTimeout,
		Report:  func(eps []execruntime.Endpoint) { env.Endpoints.UpdateEndpoints(execEndpoints(env.Name, eps)) },
		Ended:   func(err error) { env.Endpoints.Ended(execError(err)) },
		Fast:    env.FastTransport,
		Tracing: env.Tracing,
	}
}

// execBuilder is the exec runtime's RuntimeBuilder.
type execBuilder struct{}

func (execBuilder) Scheme() string { return execScheme }

func (execBuilder) Build(ctx context.Context, t Target, env RuntimeEnv) (Runtime, error) {
	cfg := execConfig(env, t.Path)
	rt, err := execruntime.Start(ctx, execEnv(env), cfg)
	if err != nil {
		return nil, execError(err)
	}
	return execRuntime{rt, cfg.Restart}, nil
}

// execRuntime is a launched plugin's Runtime; it can be detached and
// reattached to.
type execRuntime struct {
	rt      *execruntime.Runtime
	restart bool
}

func (r execRuntime) Close(ctx context.Context, stop func(context.Context, Endpoint) error) error {
	return r.rt.Close(ctx, func(ctx context.Context, ep execruntime.Endpoint) error {
		return stop(ctx, Endpoint{Network: ep.Network, Address: ep.Address})
	})
}

func (r execRuntime) Detach() error { return r.rt.Detach() }

func (r execRuntime) ReattachConfig(n Negotiated) (ReattachConfig, error) {
	cfg, err := r.rt.ReattachConfig(n.Plugin, n.ProtocolVersion, n.Interfaces)
	return cfg, execError(err)
}

// execEndpoints turns the exec runtime's endpoints into the client's.
func execEndpoints(name string, eps []execruntime.Endpoint) []Endpoint {
	out := make([]Endpoint, len(eps))
	for i, ep := range eps {
		out[i] = Endpoint{Network: ep.Network, Address: ep.Address, Creds: ep.Creds, ServerName: ep.ServerName,
			ProtocolVersion: ep.ProtocolVersion, Describe: ep.Describe, Dial: ep.Dial,
			// A launched plugin listens before it prints its handshake, so
			// a failed first connection will not get better.
			FailFast: true,
		}
		switch in := ep.Instance.(type) {
		case *execruntime.Instance:
			out[i].Instance = launched{in}
			out[i].Replaceable = in.Restarts()
		case *execruntime.Attached:
			out[i].Instance = attached{in}
		}
	}
	return out
}

// launched is a process this host launched: it reports its handshake line
// and takes the output of go-plugin's stdio stream.
type launched struct{ *execruntime.Instance }

func (l launched) ExitError() error { return execError(l.Instance.ExitError()) }

// attached is a process another host launched.
type attached struct{ *execruntime.Attached }

func (a attached) ExitError() error { return execError(a.Attached.ExitError()) }

var (
	_ HandshakeReporter = launched{}
	_ OutputSink        = launched{}
	_ Detacher          = execRuntime{}
	_ Reattacher        = execRuntime{}
)

// execKinds maps the exec runtime's kinds of failure to tether's.
var execKinds = map[execruntime.Kind]error{
	execruntime.KindHost:         ErrHost,
	execruntime.KindNotPlugin:    ErrNotPlugin,
	execruntime.KindWrongCookie:  ErrWrongCookie,
	execruntime.KindVersion:      ErrIncompatibleVersion,
	execruntime.KindStartTimeout: ErrStartTimeout,
	execruntime.KindPluginExited: ErrPluginExited,
	execruntime.KindChecksum:     ErrChecksumMismatch,
	execruntime.KindUnavailable:  ErrUnavailable,
	execruntime.KindBadTarget:    ErrBadTarget,
}

// execError turns an *execruntime.Error into a *PluginError or, for
// versions that do not fit, a *VersionError (a version failure with a
// cause, such as go-plugin's multiplexing missing, stays a *PluginError of
// kind ErrIncompatibleVersion); other errors pass as they are.
func execError(err error) error {
	var e *execruntime.Error
	if !errors.As(err, &e) {
		return err
	}
	if e.Kind == execruntime.KindVersion && e.Err == nil {
		return &VersionError{Plugin: e.Plugin, HostVersions: e.HostVersions, PluginVersions: e.PluginVersions}
	}
	return &PluginError{Plugin: e.Plugin, Kind: execKinds[e.Kind], Detail: e.Detail, Output: e.Output,
		Exited: e.Exited, ExitCode: e.ExitCode, Err: e.Err}
}

// WithStdout sets where lines the plugin prints on stdout after its handshake
// go (for go-plugin plugins, what their stdio stream carries). The default
// logs each at info with stream=stdout. Exec targets (and Attach) only.
func WithStdout(w io.Writer) Option {
	return outputOption("WithStdout", func(c *execruntime.Config) { c.Stdout = w })
}

// WithStderr copies each line the plugin prints on stderr, as printed and
// newline included, to w (a log file, say), besides logging it re-levelled
// as always. Writes come from one goroutine per instance, in order. Exec
// targets (and Attach) only.
func WithStderr(w io.Writer) Option {
	return outputOption("WithStderr", func(c *execruntime.Config) { c.Stderr = w })
}

// WithKillTimeout bounds each step of Kill: the graceful shutdown, then
// SIGTERM, before SIGKILL. The default is 2 seconds. Exec targets only.
func WithKillTimeout(d time.Duration) Option {
	return execOption("WithKillTimeout", func(c *execruntime.Config) { c.KillTimeout = d })
}

// StartedProcess is a plugin process the exec runtime has just started,
// before its handshake (see WithOnStart).
type StartedProcess struct {
	Pid int
	// SocketDir is the private directory its socket is to be in, which it
	// removes when it exits gracefully.
	SocketDir string
}

// WithOnStart calls f with every process the exec runtime starts for the
// plugin (the first, and each restart with WithRestart) as soon as it
// runs, before it has answered anything: for a host that records its
// processes durably (the supervise package does, for plugins that outlive
// it), so that a process it started is never lost, even when the host dies
// before the plugin is ready. f runs on the start's goroutine and must not
// block. Exec targets only.
func WithOnStart(f func(StartedProcess)) Option {
	return execOption("WithOnStart", func(c *execruntime.Config) {
		c.OnStart = func(pid int, dir string) { f(StartedProcess{Pid: pid, SocketDir: dir}) }
	})
}

// cookieOption passes WithHandshake's magic cookie to the exec runtime. It
// is taken by every target: a plugin reached over the network has no
// environment from its host to check a cookie in (mutual TLS says who may
// call it there), while the protocol version applies everywhere.
func cookieOption(h HandshakeConfig) Option {
	return runtimeSetting{name: "WithHandshake", any: true, set: func(c *execruntime.Config) {
		c.CookieKey, c.CookieValue = h.MagicCookieKey, h.MagicCookieValue
	}}
}

// WithArgs sets a launched plugin's command-line arguments. Exec targets
// only.
func WithArgs(args ...string) Option {
	return execOption("WithArgs", func(c *execruntime.Config) { c.Args = slices.Clone(args) })
}

// WithEnv adds KEY=VALUE entries to a launched plugin's environment, which
// otherwise is the host's. Exec targets only.
func WithEnv(env ...string) Option {
	return execOption("WithEnv", func(c *execruntime.Config) { c.Env = append(c.Env, env...) })
}

// WithChecksum refuses to run the binary unless its SHA-256 is sum. The file
// that was hashed is the file executed, even if another is renamed over its
// path in between. Exec targets only.
func WithChecksum(sum []byte) Option {
	return execOption("WithChecksum", func(c *execruntime.Config) { c.Checksum = slices.Clone(sum) })
}

// WithAutoMTLS turns on automatic mutual TLS: one-time certificates on each
// side, exchanged through the environment and the handshake line, new for
// every launched process. It is on by default on Windows, where plugins
// listen on loopback TCP (docs/platforms.md). Exec targets only.
func WithAutoMTLS() Option {
	return execOption("WithAutoMTLS", func(c *execruntime.Config) { c.AutoMTLS = true })
}

// WithoutAutoMTLS turns automatic mutual TLS off where it is on by default
// (Windows), for a plugin built on a go-plugin too old to do it. Any local
// program can then call the plugin on its loopback port. Exec targets only.
func WithoutAutoMTLS() Option {
	return execOption("WithoutAutoMTLS", func(c *execruntime.Config) { c.AutoMTLS = false })
}

// WithOutliveHost lets a launched plugin keep running after the host exits,
// for hosts that re-adopt their plugins after a restart. Exec targets only.
func WithOutliveHost() Option {
	return execOption("WithOutliveHost", func(c *execruntime.Config) { c.Outlive = true })
}

// WithSpool sends the plugin's stdout and stderr to spool files in dir
// (dir/stdout and dir/stderr, created 0600; dir must exist) instead of
// pipes, appending to what earlier processes left there. The host follows
// them as it would follow the pipes. Nothing the plugin prints is lost
// while no host reads, and a plugin that outlives its host does not die of
// SIGPIPE: a host that attaches later (Attach, with the ReattachConfig,
// which records how far its output was read) goes on from there. Meant
// with WithOutliveHost. Exec targets only.
func WithSpool(dir string) Option {
	return execOption("WithSpool", func(c *execruntime.Config) { c.SpoolDir = dir })
}

// WithRestart has the exec runtime start the plugin again whenever its
// process exits while the client is open, with a backoff from 50 ms
// doubling to 5 s. The client, and every stub dispensed from it, keeps
// working: the new process's socket is fed to the same connection, and it
// takes calls once it has answered Describe with the versions negotiated
// at the start. Meanwhile calls fail fast with ErrUnavailable, or wait
// with WithWaitForReady. (Restart budgets, health-based restarts and
// re-adoption are the supervise package's.) Exec targets only.
func WithRestart() Option {
	return execOption("WithRestart", func(c *execruntime.Config) { c.Restart = true })
}
