package tether

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/proto"

	"github.com/tetherplug/tether/internal/autotls"
	"github.com/tetherplug/tether/internal/logfwd"
	"github.com/tetherplug/tether/internal/pb/tetherv1"
	"github.com/tetherplug/tether/internal/proc"
)

// execInstance is one launched plugin process.
type execInstance struct {
	name string
	p    *proc.Process
	fwd  *logfwd.Forwarder // its stderr, re-levelled, with the last lines kept
	// stderr receives a copy of each raw stderr line (WithStderr); nil: none.
	stderr io.Writer
	hs     HandshakeLine
	// hostCert is the host's one-time certificate with automatic mutual
	// TLS (nil without): the one the plugin trusts, which a reattach
	// config carries.
	hostCert *tls.Certificate
}

func (i *execInstance) Pid() int                 { return i.p.Pid() }
func (i *execInstance) Exited() <-chan struct{}  { return i.p.Exited() }
func (i *execInstance) Handshake() HandshakeLine { return i.hs }
func (i *execInstance) stderrLine(line string) {
	i.fwd.Line(line)
	if i.stderr != nil {
		_, _ = io.WriteString(i.stderr, line)
	}
}
func (i *execInstance) exitFields(e *PluginError) {
	e.Exited, e.ExitCode = i.p.HasExited(), i.p.ExitCode()
}

// ExitError is the process's exit as an ErrPluginExited error with its
// status and last stderr lines, nil while it runs.
func (i *execInstance) ExitError() error {
	if !i.p.HasExited() {
		return nil
	}
	e := &PluginError{Plugin: i.name, Kind: ErrPluginExited, Output: i.fwd.Tail()}
	i.exitFields(e)
	if e.ExitCode < 0 {
		e.Err = i.p.WaitErr() // "signal: killed", which ExitCode -1 does not say
	}
	return e
}

// launchInstance starts the program, reads its handshake and returns the
// endpoint it answers on. On failure nothing is left running.
func launchInstance(ctx context.Context, env RuntimeEnv, cfg execConfig, path string) (*execInstance, Endpoint, error) {
	name := env.Name
	perr := func(kind error, detail string, err error) *PluginError {
		return &PluginError{Plugin: name, Kind: kind, Detail: detail, Err: err}
	}
	dir, err := socketDir()
	if err != nil {
		return nil, Endpoint{}, perr(ErrHost, "could not create its socket directory", err)
	}
	hs := env.Handshake
	vars := append(launchEnviron(),
		hs.MagicCookieKey+"="+hs.MagicCookieValue,
		EnvProtocolVersions+"="+formatVersions(env.ProtocolVersions),
		EnvUnixSocketDir+"="+dir,
		EnvOwnSocketDir+"="+dir,
		EnvDescribeInHandshake+"=1",
	)
	var hostCert tls.Certificate
	if cfg.autoMTLS {
		var certPEM []byte
		if hostCert, certPEM, err = autotls.Generate(); err != nil {
			_ = os.RemoveAll(dir)
			return nil, Endpoint{}, perr(ErrHost, "could not make a TLS certificate", err)
		}
		vars = append(vars, EnvClientCert+"="+string(certPEM))
	}
	if cfg.outlive {
		vars = append(vars, EnvOutlive+"=1")
	}
	vars = append(vars, cfg.env...)
	inst := &execInstance{name: name, fwd: logfwd.New(env.Logger.With("plugin", name), 20), stderr: env.Stderr}
	if cfg.autoMTLS {
		inst.hostCert = &hostCert
	}
	inst.p, err = proc.Start(proc.Spec{Path: path, Args: cfg.args, Env: vars, Checksum: cfg.checksum,
		DieWithHost: !cfg.outlive, Dir: dir, Stderr: inst.stderrLine, KillTimeout: env.KillTimeout})
	if err != nil {
		_ = os.RemoveAll(dir)
		if errors.Is(err, proc.ErrChecksumMismatch) {
			return nil, Endpoint{}, perr(ErrChecksumMismatch, strings.TrimPrefix(err.Error(), proc.ErrChecksumMismatch.Error()+": "), nil)
		}
		return nil, Endpoint{}, perr(ErrNotPlugin, "could not start it", err)
	}
	ep, err := inst.handshake(ctx, env, cfg, hostCert)
	if err != nil {
		_ = inst.p.Terminate(context.Background(), env.KillTimeout)
		return nil, Endpoint{}, err
	}
	go forwardStdout(inst.p.Stdout(), env)
	return inst, ep, nil
}

// networkServing are the variables that make a plugin serve on the network
// instead of answering its launch: a host that has them in its own
// environment (a host that is itself served on the network) does not pass
// them on. WithEnv can still set them on purpose.
var networkServing = []string{EnvListen, EnvTLSCert, EnvTLSKey, EnvTLSClientCA, EnvTLSNoClientAuth, EnvInsecure, EnvShutdownGrace}

// launchEnviron is the host's environment without networkServing.
func launchEnviron() []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		return slices.Contains(networkServing, k)
	})
}

// socketDir makes the private directory of one plugin's socket, in the
// temporary directory, or in /tmp when a socket path there would be too
// long for a Unix socket.
func socketDir() (string, error) {
	const maxSocketPath = 107 // sun_path on Linux, less its NUL
	const socketName = "/plugin-4194304.sock"
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
func (i *execInstance) handshake(ctx context.Context, env RuntimeEnv, cfg execConfig, hostCert tls.Certificate) (Endpoint, error) {
	name := env.Name
	perr := func(detail string, err error) *PluginError {
		return &PluginError{Plugin: name, Kind: ErrNotPlugin, Detail: detail, Err: err}
	}
	line, err := awaitHandshake(ctx, i.p)
	if err != nil {
		return Endpoint{}, handshakeFailure(name, i, line, err, env.StartTimeout)
	}
	hl, err := ParseHandshakeLine(line)
	if err != nil {
		// A program that prints a usage line usually exits right after:
		// give it a moment, so that the error can tell its exit status.
		i.p.WaitExit(notPluginExitWait)
		e := &PluginError{Plugin: name, Kind: ErrNotPlugin, Output: firstBytes(line),
			Detail: "its first line is not a handshake (" + err.Error() + ")"}
		i.exitFields(e)
		return Endpoint{}, e
	}
	i.hs = hl
	if err := checkLocal(hl); err != nil {
		return Endpoint{}, perr("its handshake names an address outside this machine", err)
	}
	if !slices.Contains(env.ProtocolVersions, hl.AppVersion) {
		return Endpoint{}, &VersionError{Plugin: name, HostVersions: env.ProtocolVersions, PluginVersions: []int{hl.AppVersion}}
	}
	ep := Endpoint{Network: hl.Network, Address: hl.Address, ProtocolVersion: hl.AppVersion, FailFast: true, Instance: i, Replaceable: cfg.restart}
	if len(hl.Describe) > 0 {
		ep.described = &tetherv1.DescribeResponse{}
		if err := proto.Unmarshal(hl.Describe, ep.described); err != nil {
			return Endpoint{}, perr("bad Describe answer on the handshake line", err)
		}
	}
	switch {
	case cfg.autoMTLS && len(hl.ServerCert) == 0:
		return Endpoint{}, perr("automatic mutual TLS was asked for but the plugin sent no certificate", nil)
	case cfg.autoMTLS:
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

// checkLocal refuses a launched plugin's TCP address unless it is on the
// loopback interface: a local plugin has no business sending its host to
// another machine.
func checkLocal(hl HandshakeLine) error {
	if hl.Network != "tcp" {
		return nil
	}
	host, _, err := net.SplitHostPort(hl.Address)
	if err != nil {
		return err
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%s is not a loopback address", hl.Address)
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
func awaitHandshake(ctx context.Context, p *proc.Process) (string, error) {
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
		if context.Cause(ctx) == errStartDeadline {
			return "", ErrStartTimeout
		}
		return "", ctx.Err()
	}
}

// handshakeFailure explains why no handshake line came.
func handshakeFailure(name string, i *execInstance, printed string, err error, timeout time.Duration) error {
	e := &PluginError{Plugin: name, Kind: ErrNotPlugin, Output: firstBytes(printed)}
	switch {
	case errors.Is(err, ErrStartTimeout):
		e.Kind, e.Detail = ErrStartTimeout, fmt.Sprintf("no handshake line within %v", timeout)
		e.Output = i.fwd.Tail()
		return e
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		e.Kind, e.Detail, e.Err = ErrStartTimeout, "gave up waiting for its handshake", err
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
	case isCookieMessage(stderr):
		e.Kind, e.Detail, e.Output = ErrWrongCookie, "the plugin refused the host's magic cookie", stderr
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

func isCookieMessage(s string) bool {
	return strings.Contains(s, "This binary is a plugin") || strings.Contains(s, "magic cookie")
}

// forwardStdout sends what the plugin prints after its handshake to the
// host's stdout sink, line by line.
func forwardStdout(r io.Reader, env RuntimeEnv) {
	if w := env.Stdout; w != nil {
		_, _ = io.Copy(w, r)
		return
	}
	log := env.Logger.With("plugin", env.Name)
	proc.ForwardLines(r, func(s string) { log.Info(strings.TrimRight(s, "\r\n"), "stream", "stdout") })
}

func firstBytes(s string) string {
	const max = 256
	if len(s) > max {
		return s[:max]
	}
	return s
}
