package tether

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc/credentials"

	"github.com/tetherplug/tether/internal/autotls"
	"github.com/tetherplug/tether/internal/logfwd"
)

// Launch starts the plugin program at path, completes the handshake,
// connects, and negotiates the interfaces asked for with WithInterface. On
// failure nothing is left running and the error is a *PluginError or
// *VersionError wrapping one of ErrNotPlugin, ErrWrongCookie,
// ErrIncompatibleVersion, ErrStartTimeout, ErrPluginExited or
// ErrChecksumMismatch.
//
// The plugin dies with the host (unless WithOutliveHost): on Linux through a
// parent-death signal, and a tether plugin also watches a pipe whose other
// end only the host holds, which works through wrapper scripts too.
func Launch(ctx context.Context, path string, opts ...Option) (*Client, error) {
	o := buildOptions(opts)
	name := o.name
	if name == "" {
		name = filepath.Base(path)
	}
	perr := func(kind error, detail string, err error) *PluginError {
		return &PluginError{Plugin: name, Kind: kind, Detail: detail, Err: err}
	}
	// exec.Command looks a bare name up in PATH: check the file it will run.
	cmd := exec.Command(path, o.args...)
	if len(o.checksum) > 0 {
		if err := verifyChecksum(cmd.Path, o.checksum); err != nil {
			return nil, perr(ErrChecksumMismatch, "", err)
		}
	}
	dir, err := os.MkdirTemp("", "tether-")
	if err != nil {
		return nil, perr(ErrNotPlugin, "could not create its socket directory", err)
	}
	var hostCert tls.Certificate
	env := append(os.Environ(),
		o.handshake.MagicCookieKey+"="+o.handshake.MagicCookieValue,
		EnvProtocolVersions+"="+formatVersions(o.protocolVersions),
		EnvUnixSocketDir+"="+dir,
		EnvOwnSocketDir+"="+dir,
	)
	if o.autoMTLS {
		var certPEM []byte
		if hostCert, certPEM, err = autotls.Generate(); err != nil {
			_ = os.RemoveAll(dir)
			return nil, perr(ErrNotPlugin, "could not make a TLS certificate", err)
		}
		env = append(env, EnvClientCert+"="+string(certPEM))
	}
	if o.outlive {
		env = append(env, EnvOutlive+"=1")
	}
	// lead: host side of the host pipe. The plugin watches the read end;
	// the write end, which no child inherits (close-on-exec), closes when
	// this process dies, however it dies.
	var hostPipe *os.File
	if !o.outlive {
		r, w, err := os.Pipe()
		if err != nil {
			_ = os.RemoveAll(dir)
			return nil, perr(ErrNotPlugin, "could not create its host pipe", err)
		}
		defer r.Close() // the child has its own copy once started
		cmd.ExtraFiles = []*os.File{r}
		env = append(env, EnvHostPipe+"=3")
		hostPipe = w
	}
	env = append(env, o.env...)

	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if !o.outlive {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGTERM
	}
	log := o.logger.With("plugin", name)
	fwd := logfwd.New(log, 20)
	// One deadline for the whole start, handshake and connection together.
	deadline := time.Now().Add(o.startTimeout)
	proc, err := startProcess(cmd, dir, fwd)
	if err != nil {
		_ = os.RemoveAll(dir)
		if hostPipe != nil {
			_ = hostPipe.Close()
		}
		return nil, perr(ErrNotPlugin, "could not start it", err)
	}
	if hostPipe != nil { // lead: host side of the host pipe
		go func() { <-proc.exited; _ = hostPipe.Close() }()
	}

	line, err := awaitHandshake(ctx, proc, time.Until(deadline))
	fail := func(e error) (*Client, error) {
		proc.terminate(o.killTimeout)
		return nil, e
	}
	if err != nil {
		return fail(handshakeFailure(name, proc, line, err, o.startTimeout))
	}
	hl, err := ParseHandshakeLine(line)
	if err != nil {
		// A program that prints a usage line usually exits right after:
		// give it a moment, so that the error can tell its exit status.
		proc.waitExit(notPluginExitWait)
		proc.terminate(o.killTimeout)
		return nil, &PluginError{Plugin: name, Kind: ErrNotPlugin, Exited: proc.hasExited(), ExitCode: proc.exitCode(),
			Detail: "its first line is not a handshake (" + err.Error() + ")", Output: firstBytes(line)}
	}
	if err := checkLocal(hl); err != nil {
		return fail(perr(ErrNotPlugin, "its handshake names an address outside this machine", err))
	}
	if !slices.Contains(o.protocolVersions, hl.AppVersion) {
		return fail(&VersionError{Plugin: name, HostVersions: o.protocolVersions, PluginVersions: []int{hl.AppVersion}})
	}
	go forwardStdout(proc, o, log)

	creds := insecureCreds()
	if o.autoMTLS {
		if len(hl.ServerCert) == 0 {
			return fail(perr(ErrNotPlugin, "automatic mutual TLS was asked for but the plugin sent no certificate", nil))
		}
		conf, err := autotls.ClientConfig(hostCert, hl.ServerCert)
		if err != nil {
			return fail(perr(ErrNotPlugin, "bad certificate on the handshake line", err))
		}
		creds = credentials.NewTLS(conf)
	} else if len(hl.ServerCert) > 0 {
		return fail(perr(ErrNotPlugin, "the plugin wants TLS but the host did not offer automatic mutual TLS", nil))
	}

	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	// A plugin that dies after its handshake must not leave connect
	// waiting for a socket nobody will ever answer on.
	go func() {
		select {
		case <-proc.exited:
			cancel()
		case <-ctx.Done():
		}
	}()
	c, err := connect(ctx, endpoint{network: hl.Network, address: hl.Address, creds: creds, failFast: true}, name, hl.AppVersion, o, proc)
	if err != nil {
		if proc.hasExited() || proc.waitExit(100*time.Millisecond) {
			err = &PluginError{Plugin: name, Kind: ErrPluginExited, Detail: "while connecting", Err: err,
				Exited: proc.hasExited(), ExitCode: proc.exitCode(), Output: fwd.Tail()}
		}
		return fail(err)
	}
	c.hs = hl
	return c, nil
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

// awaitHandshake waits for the first stdout line, the process's exit, the
// start timeout or ctx, whichever comes first.
func awaitHandshake(ctx context.Context, proc *process, timeout time.Duration) (string, error) {
	type result struct {
		line string
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		line, err := proc.readHandshake()
		ch <- result{line, err}
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case r := <-ch:
		return r.line, r.err
	case <-t.C:
		return "", ErrStartTimeout
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// handshakeFailure explains why no handshake line came.
func handshakeFailure(name string, proc *process, printed string, err error, timeout time.Duration) error {
	e := &PluginError{Plugin: name, Kind: ErrNotPlugin, Output: firstBytes(printed)}
	switch {
	case errors.Is(err, ErrStartTimeout):
		e.Kind, e.Detail = ErrStartTimeout, fmt.Sprintf("no handshake line within %v", timeout)
		e.Output = proc.stderr.Tail()
		return e
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		e.Kind, e.Detail, e.Err = ErrStartTimeout, "gave up waiting for its handshake", err
		return e
	}
	// stdout closed: the program exited (or closed stdout) without a line.
	proc.waitExit(processExitGrace)
	e.Exited, e.ExitCode = proc.hasExited(), proc.exitCode()
	stderr := proc.stderr.Tail()
	switch {
	case isCookieMessage(stderr):
		e.Kind, e.Detail, e.Output = ErrWrongCookie, "the plugin refused the host's magic cookie", stderr
	case printed != "":
		e.Detail = "it printed no complete handshake line before closing stdout"
	default:
		e.Detail = "it exited without printing a handshake line"
		if !proc.hasExited() {
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
func forwardStdout(proc *process, o *options, log interface{ Info(string, ...any) }) {
	if o.stdout != nil {
		_, _ = io.Copy(o.stdout, proc.stdout)
		return
	}
	forwardLines(proc.stdout, func(s string) { log.Info(strings.TrimRight(s, "\r\n"), "stream", "stdout") })
}

func firstBytes(s string) string {
	const max = 256
	if len(s) > max {
		return s[:max]
	}
	return s
}

func verifyChecksum(path string, want []byte) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	if got := h.Sum(nil); string(got) != string(want) {
		return fmt.Errorf("SHA-256 is %s, want %s", hex.EncodeToString(got), hex.EncodeToString(want))
	}
	return nil
}
