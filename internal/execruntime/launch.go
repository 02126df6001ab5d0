package execruntime

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc/credentials"

	"github.com/tetherplug/tether/internal/autotls"
	"github.com/tetherplug/tether/internal/logfwd"
	"github.com/tetherplug/tether/internal/proc"
	"github.com/tetherplug/tether/internal/wire"
)

// Instance is one launched plugin process.
type Instance struct {
	name string
	p    *proc.Process
	fwd  *logfwd.Forwarder // its stderr, re-levelled, with the last lines kept
	// stderr receives a copy of each raw stderr line (Config.Stderr); nil: none.
	stderr io.Writer
	stdout func(string) // where its stdout lines go
	// spool names its spool files (Config.SpoolDir); nil: pipes.
	spool *proc.SpoolFiles
	hs    wire.HandshakeLine
	// hostCert is the host's one-time certificate with automatic mutual
	// TLS (nil without): the one the plugin trusts, which a reattach
	// config carries.
	hostCert *tls.Certificate
	restarts bool // the runtime starts another when it exits
	// broker is go-plugin's broker of this process (broker.go).
	broker brokerSlot
}

// Restarts reports whether the runtime starts another instance when this
// one exits (Config.Restart), so that a call cut off by its end is worth
// no more than a retry.
func (i *Instance) Restarts() bool { return i.restarts }

func (i *Instance) Pid() int                      { return i.p.Pid() }
func (i *Instance) Exited() <-chan struct{}       { return i.p.Exited() }
func (i *Instance) Handshake() wire.HandshakeLine { return i.hs }

// StdoutLine passes on a line the plugin sent over go-plugin's stdio
// stream as it does the lines of its stdout.
func (i *Instance) StdoutLine(line string) { i.stdout(line) }

// StderrLine re-levels a line of the plugin's stderr into the host's
// logger, keeps it for the exit error, and copies it to Config.Stderr.
func (i *Instance) StderrLine(line string) {
	i.fwd.Line(line)
	if i.stderr != nil {
		_, _ = io.WriteString(i.stderr, line)
	}
}
func (i *Instance) exitFields(e *Error) {
	e.Exited, e.ExitCode = i.p.HasExited(), i.p.ExitCode()
}

// ExitError is the process's exit as an KindPluginExited error with its
// status and last stderr lines, nil while it runs.
func (i *Instance) ExitError() error {
	if !i.p.HasExited() {
		return nil
	}
	e := &Error{Plugin: i.name, Kind: KindPluginExited, Output: i.fwd.Tail()}
	i.exitFields(e)
	if e.ExitCode < 0 {
		e.Err = i.p.WaitErr() // "signal: killed", which ExitCode -1 does not say
	}
	return e
}

// Launch starts the program, reads its handshake and returns the
// endpoint it answers on. On failure nothing is left running.
func Launch(ctx context.Context, env Env, cfg Config) (*Instance, Endpoint, error) {
	path := cfg.Path
	name := env.Name
	perr := func(kind Kind, detail string, err error) *Error {
		return &Error{Plugin: name, Kind: kind, Detail: detail, Err: err}
	}
	dir, err := socketDir()
	if err != nil {
		return nil, Endpoint{}, perr(KindHost, "could not create its socket directory", err)
	}
	vars := append(launchEnviron(),
		cfg.CookieKey+"="+cfg.CookieValue,
		wire.EnvProtocolVersions+"="+wire.FormatVersions(env.ProtocolVersions),
		wire.EnvUnixSocketDir+"="+dir,
		wire.EnvOwnSocketDir+"="+dir,
		wire.EnvDescribeInHandshake+"=1",
		wire.EnvFastTransport+"="+onOff(env.Fast),
	)
	var hostCert tls.Certificate
	if cfg.AutoMTLS {
		var certPEM []byte
		if hostCert, certPEM, err = autotls.Generate(); err != nil {
			_ = os.RemoveAll(dir)
			return nil, Endpoint{}, perr(KindHost, "could not make a TLS certificate", err)
		}
		vars = append(vars, wire.EnvClientCert+"="+string(certPEM))
	}
	if cfg.Multiplex {
		vars = append(vars, wire.EnvMultiplexGRPC+"=true")
	}
	if cfg.Outlive {
		vars = append(vars, wire.EnvOutlive+"=1")
	}
	if env.Tracing {
		vars = append(vars, wire.EnvTracing+"=1")
	}
	vars = append(vars, cfg.Env...)
	inst := &Instance{name: name, fwd: logfwd.New(env.Logger.With("plugin", name), 20), stderr: cfg.Stderr,
		stdout: stdoutLine(env, cfg.Stdout), restarts: cfg.Restart}
	if cfg.AutoMTLS {
		inst.hostCert = &hostCert
	}
	spec := proc.Spec{Path: path, Args: cfg.Args, Env: vars, Checksum: cfg.Checksum,
		DieWithHost: !cfg.Outlive, Dir: dir, Stderr: inst.StderrLine, KillTimeout: cfg.KillTimeout}
	if cfg.SpoolDir != "" {
		inst.spool = &proc.SpoolFiles{Stdout: filepath.Join(cfg.SpoolDir, "stdout"), Stderr: filepath.Join(cfg.SpoolDir, "stderr")}
		spec.Spool = inst.spool
	}
	inst.p, err = proc.Start(spec)
	if err != nil {
		_ = os.RemoveAll(dir)
		if errors.Is(err, proc.ErrChecksumMismatch) {
			return nil, Endpoint{}, perr(KindChecksum, strings.TrimPrefix(err.Error(), proc.ErrChecksumMismatch.Error()+": "), nil)
		}
		return nil, Endpoint{}, perr(KindNotPlugin, "could not start it", err)
	}
	if cfg.OnStart != nil {
		cfg.OnStart(inst.p.Pid(), dir)
	}
	ep, err := inst.handshake(ctx, env, cfg, hostCert)
	if err == nil {
		err = inst.setUpBroker(cfg, inst.hs, hostCert, dir, &ep)
		if err != nil {
			err = perr(KindHost, "could not set up go-plugin's broker", err)
		}
	}
	if err != nil {
		_ = inst.p.Terminate(context.Background(), cfg.KillTimeout)
		return nil, Endpoint{}, err
	}
	go inst.p.ForwardStdout(inst.stdout)
	return inst, ep, nil
}

// launchEnviron is the host's environment without wire.NetworkServing (a
// host that is itself served on the network does not pass them on) and
// without inherited go-plugin launch variables the host sets only when it
// means them (a host that is itself a go-plugin plugin has its own host's
// PLUGIN_CLIENT_CERT and PLUGIN_MULTIPLEX_GRPC). Config.Env can still set
// any of them on purpose.
func launchEnviron() []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		return slices.Contains(wire.NetworkServing, k) || k == wire.EnvClientCert || k == wire.EnvMultiplexGRPC
	})
}

// socketDir makes the private directory of one plugin's socket, in the
// temporary directory, or in /tmp when a socket path there would be too
// long for a Unix socket.
func socketDir() (string, error) {
	const maxSocketPath = len(syscall.RawSockaddrUnix{}.Path) - 1 // sun_path less its NUL: 107 on Linux, 103 on macOS
	const socketName = "/plugin-4194304.fast.sock"                // the longer of a plugin's two sockets
	var lastErr error
	for i, base := range []string{os.TempDir(), "/tmp"} {
		dir, err := os.MkdirTemp(base, "tether-")
		if err != nil {
			if i == 0 {
				return "", err
			}
			lastErr = err
			continue
		}
		if len(dir)+len(socketName) <= maxSocketPath {
			return dir, nil
		}
		_ = os.Remove(dir)
		lastErr = fmt.Errorf("a socket path in %s would be longer than the %d bytes a Unix socket path can have; set a shorter TMPDIR",
			base, maxSocketPath)
	}
	return "", lastErr
}

// handshake reads and checks the handshake line and makes the endpoint.
func (i *Instance) handshake(ctx context.Context, env Env, cfg Config, hostCert tls.Certificate) (Endpoint, error) {
	name := env.Name
	perr := func(detail string, err error) *Error {
		return &Error{Plugin: name, Kind: KindNotPlugin, Detail: detail, Err: err}
	}
	line, err := awaitHandshake(ctx, i.p, env.StartDeadline)
	if err != nil {
		return Endpoint{}, handshakeFailure(name, i, line, err, env.StartTimeout)
	}
	hl, err := wire.ParseHandshakeLine(line)
	if err != nil {
		// A program that prints a usage line usually exits right after:
		// give it a moment, so that the error can tell its exit status.
		i.p.WaitExit(notPluginExitWait)
		e := &Error{Plugin: name, Kind: KindNotPlugin, Output: firstBytes(line),
			Detail: "its first line is not a handshake (" + err.Error() + ")"}
		i.exitFields(e)
		return Endpoint{}, e
	}
	i.hs = hl
	if err := checkMultiplex(cfg, hl); err != nil {
		return Endpoint{}, &Error{Plugin: name, Kind: KindVersion, Detail: err.Error(), Err: ErrMuxNotSupported}
	}
	if hl.Multiplex && !cfg.Multiplex {
		return Endpoint{}, perr("its handshake says it multiplexes its connections (seventh field true), "+
			"which the host did not ask for ("+wire.EnvMultiplexGRPC+" was not set)", nil)
	}
	if err := CheckLocal(hl.Network, hl.Address); err != nil {
		return Endpoint{}, perr("its handshake names an address outside this machine", err)
	}
	if !slices.Contains(env.ProtocolVersions, hl.AppVersion) {
		return Endpoint{}, &Error{Plugin: name, Kind: KindVersion, Detail: "no shared protocol version",
			HostVersions: env.ProtocolVersions, PluginVersions: []int{hl.AppVersion}}
	}
	// The Describe answer is passed on as printed: the client decodes it,
	// and refuses the instance when it does not decode.
	ep := Endpoint{Network: hl.Network, Address: hl.Address, ProtocolVersion: hl.AppVersion, Instance: i, Describe: hl.Describe}
	switch {
	case cfg.AutoMTLS && len(hl.ServerCert) == 0:
		return Endpoint{}, perr("automatic mutual TLS was asked for but the plugin sent no certificate"+autoMTLSHint, nil)
	case cfg.AutoMTLS:
		conf, err := autotls.ClientConfig(hostCert, hl.ServerCert)
		if err != nil {
			return Endpoint{}, perr("bad certificate on the handshake line", err)
		}
		ep.Creds = credentials.NewTLS(conf)
	case len(hl.ServerCert) > 0:
		return Endpoint{}, perr("the plugin wants TLS but the host did not offer automatic mutual TLS", nil)
	}
	return ep, nil
}

// checkMultiplex refuses a plugin that does not multiplex to a host that
// asked for go-plugin's multiplexed broker.
func checkMultiplex(cfg Config, hl wire.HandshakeLine) error {
	if !cfg.Multiplex || hl.Multiplex {
		return nil
	}
	return errors.New("the host asked for go-plugin's multiplexed broker (" + wire.EnvMultiplexGRPC +
		"=true) but the plugin's handshake line does not offer it (go-plugin plugins need go-plugin v1.6 or later; tether plugins never multiplex)")
}

// CheckLocal refuses a launched plugin's TCP address unless it is on the
// loopback interface: a local plugin has no business sending its host to
// another machine. Unix socket paths pass.
func CheckLocal(network, address string) error {
	if network != "tcp" {
		return nil
	}
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%s is not a loopback address", address)
	}
	return nil
}

// notPluginExitWait is how long a program whose first line is not a
// handshake may take to exit by itself before it is stopped.
const notPluginExitWait = 250 * time.Millisecond

// processExitGrace bounds how long a failed start waits for the program's
// exit, to tell its status.
const processExitGrace = 2 * time.Second

// awaitHandshake waits for the first stdout line, the process's exit, or
// ctx (which carries the start deadline), whichever comes first.
func awaitHandshake(ctx context.Context, p *proc.Process, startDeadline error) (string, error) {
	type result struct {
		line string
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		line, err := p.ReadHandshake()
		ch <- result{line, err}
	}()
	select {
	case r := <-ch:
		return r.line, r.err
	case <-ctx.Done():
		if startDeadline != nil && context.Cause(ctx) == startDeadline {
			return "", errStartTimeout
		}
		return "", ctx.Err()
	}
}

// handshakeFailure explains why no handshake line came.
func handshakeFailure(name string, i *Instance, printed string, err error, timeout time.Duration) error {
	e := &Error{Plugin: name, Kind: KindNotPlugin, Output: firstBytes(printed)}
	switch {
	case errors.Is(err, errStartTimeout):
		e.Kind, e.Detail = KindStartTimeout, fmt.Sprintf("no handshake line within %v", timeout)
		e.Output = i.fwd.Tail()
		return e
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		e.Kind, e.Detail, e.Err = KindStartTimeout, "gave up waiting for its handshake", err
		return e
	case errors.Is(err, proc.ErrLineTooLong):
		e.Detail = fmt.Sprintf("its first line is longer than %d KiB, so it is no handshake", proc.MaxLine>>10)
		return e
	}
	// stdout closed: the program exited (or closed stdout) without a line.
	i.p.WaitExit(processExitGrace)
	i.exitFields(e)
	stderr := i.fwd.Tail()
	switch {
	case wire.IsCookieMessage(stderr):
		e.Kind, e.Detail, e.Output = KindWrongCookie, "the plugin refused the host's magic cookie", stderr
	case printed != "":
		e.Detail = "it printed no complete handshake line before closing stdout"
	default:
		e.Detail = "it exited without printing a handshake line"
		if !i.p.HasExited() {
			e.Detail = "it closed stdout without printing a handshake line"
		}
		e.Output = stderr
	}
	return e
}

// stdoutLine passes a line of a plugin's stdout to w, or logs it when w is
// nil.
func stdoutLine(env Env, w io.Writer) func(string) {
	if w != nil {
		return func(s string) { _, _ = io.WriteString(w, s) }
	}
	log := env.Logger.With("plugin", env.Name)
	return func(s string) { log.Info(strings.TrimRight(s, "\r\n"), "stream", "stdout") }
}

// errStartTimeout is awaitHandshake's error when the load's start deadline
// passed.
var errStartTimeout = errors.New("start timeout")

func firstBytes(s string) string {
	const max = 256
	if len(s) > max {
		return s[:max]
	}
	return s
}

// onOff is "1" or "0", as the launch variables say yes or no.
func onOff(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
