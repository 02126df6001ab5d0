package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/execruntime"
	"github.com/tetherplug/tether/network"
)

// pluginFlags are the flags of every command that launches a plugin: what
// the plugin's host application would have told it in the handshake.
type pluginFlags struct {
	cookie   string
	versions []int
	timeout  time.Duration
	autoMTLS bool
	verbose  bool
	// transport is --transport: "fast", "grpc", or "" when the command has
	// no such flag.
	transport string
	tls       tlsFlags
	kube      kubeTargetFlags
	// log, if set, is the logger the plugin's logs and output go to
	// instead of the default text log of warnings on stderr.
	log *slog.Logger
	// quiet: no progress line while the plugin loads (completion).
	quiet bool
	line  *statusLine // the progress line on stderr, made on first use
	// extra are options the command adds to the launch (serve's restarts
	// and metrics).
	extra []tether.Option
}

// status is the progress line on stderr, which writes nothing unless
// stderr is a terminal, or with quiet.
func (f *pluginFlags) status() *statusLine {
	if f.line == nil {
		f.line = &statusLine{}
		if !f.quiet {
			f.line = stderrLine()
		}
	}
	return f.line
}

// stderr is where the plugin's logs and output go: stderr, after the
// progress line is erased.
func (f *pluginFlags) stderr() io.Writer { return lineClearing{f.status(), os.Stderr} }

// lineClearing is a writer that erases a progress line before each write.
type lineClearing struct {
	line *statusLine
	w    io.Writer
}

func (l lineClearing) Write(p []byte) (int, error) {
	l.line.clear()
	return l.w.Write(p)
}

func (f *pluginFlags) add(cmd *cobra.Command) {
	f.addLaunch(cmd)
	cmd.Flags().StringVar(&f.transport, "transport", string(tether.TransportFast),
		"fast: the fast local transport where the plugin offers it, gRPC elsewhere; grpc: gRPC always (or set "+tether.EnvTransport+"=grpc)")
	f.tls.add(cmd)
	f.kube.add(cmd)
	addPortForward(cmd.Flags(), &f.tls.portForward)
}

// addLaunch adds the flags of a local plugin's launch alone, without the
// client TLS flags of network targets.
func (f *pluginFlags) addLaunch(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.cookie, "cookie", "",
		"magic cookie KEY=VALUE the plugin expects (default tether's own, "+tether.DefaultMagicCookieKey+")")
	fs.IntSliceVar(&f.versions, "protocol-version", nil,
		"application protocol version to offer; repeat to offer several (default 1)")
	fs.DurationVar(&f.timeout, "timeout", 10*time.Second,
		"bound on starting the plugin, and on the whole command except streaming calls")
	fs.BoolVar(&f.autoMTLS, "auto-mtls", execruntime.DefaultAutoMTLS,
		"connect with automatic mutual TLS (on by default on Windows, where plugins listen on loopback TCP: --auto-mtls=false turns it off)")
	fs.BoolVarP(&f.verbose, "verbose", "v", false, "show the plugin's debug logs")
}

// launch loads the plugin a target names (a path, exec:///abs/path, or a
// target of another registered runtime) and connects to it; args and
// --auto-mtls apply to local programs only, the TLS flags to network and
// kube targets only, --kubeconfig and --context to kube targets only. What the plugin logs goes to
// stderr (warnings and errors, or everything with --verbose), and so does
// what it prints on stdout, which is kept for the command's own output.
func (f *pluginFlags) launch(ctx context.Context, target string, args []string) (*tether.Client, error) {
	opts, err := f.options(ctx, target, args)
	if err != nil {
		return nil, usageError(err)
	}
	// A wait of more than a second shows what it waits for, on a terminal.
	var cp connectProgress
	if t, _ := tether.ParseTarget(target); slices.Contains(networkSchemes, t.Scheme) {
		opts = append(opts, network.WithConnectObserver(cp.observe))
	}
	stopLine := f.status().waitLine(func(elapsed time.Duration) string { return cp.line(target, elapsed) })
	c, err := tether.Open(ctx, target, opts...)
	stopLine()
	if err != nil {
		err = nameFlags(explainLaunch(err))
		if errors.Is(err, tether.ErrBadTarget) {
			// A target the runtime cannot use as given, or without the
			// TLS flags it needs: a mistake in the command line.
			return nil, usageError(err)
		}
		return nil, err
	}
	return c, nil
}

// options are the options of a launch of target with args, as the flags
// ask; an error is a mistake in the command line.
func (f *pluginFlags) options(ctx context.Context, target string, args []string) ([]tether.Option, error) {
	t, err := tether.ParseTarget(target)
	if err != nil {
		return nil, err
	}
	opts, err := f.hostOptions(ctx)
	if err != nil {
		return nil, err
	}
	execOpts, err := f.execOptions(t, args)
	if err != nil {
		return nil, err
	}
	netOpts, err := f.tls.options(t)
	if err != nil {
		return nil, err
	}
	kubeOpts, err := f.kube.options(t, f.tls.portForward)
	if err != nil {
		return nil, err
	}
	return append(append(append(append(opts, execOpts...), netOpts...), kubeOpts...), f.extra...), nil
}

// hostOptions are the options a host application would give: the
// handshake, the protocol versions, the start timeout within ctx and the
// logger.
func (f *pluginFlags) hostOptions(ctx context.Context) ([]tether.Option, error) {
	var hs tether.HandshakeConfig
	if f.cookie != "" {
		key, value, ok := strings.Cut(f.cookie, "=")
		if !ok || key == "" {
			return nil, fmt.Errorf("--cookie %q: want KEY=VALUE", f.cookie)
		}
		hs.MagicCookieKey, hs.MagicCookieValue = key, value
	}
	for _, v := range f.versions {
		if v <= 0 {
			return nil, fmt.Errorf("--protocol-version %d: want a positive number", v)
		}
	}
	level := slog.LevelWarn
	if f.verbose {
		level = slog.LevelDebug
	}
	log := f.log
	if log == nil {
		log = slog.New(slog.NewTextHandler(f.stderr(), &slog.HandlerOptions{Level: level}))
	}
	log = slog.New(flagNamingHandler{log.Handler()})
	opts := []tether.Option{
		tether.WithHandshake(hs),
		tether.WithStartTimeout(startTimeout(ctx, f.timeout)),
		tether.WithLogger(log),
	}
	if len(f.versions) > 0 {
		opts = append(opts, tether.WithProtocolVersions(f.versions...))
	}
	switch tr := tether.Transport(f.transport); tr {
	case "":
	case tether.TransportFast, tether.TransportGRPC:
		opts = append(opts, tether.WithTransport(tr))
	default:
		return nil, fmt.Errorf("--transport %q: want %s or %s", f.transport, tether.TransportFast, tether.TransportGRPC)
	}
	return opts, nil
}

// execOptions are the options of a local program: its arguments (after
// "--") and --auto-mtls. For a target of another runtime they are an error
// naming the flag.
func (f *pluginFlags) execOptions(t tether.Target, args []string) ([]tether.Option, error) {
	if t.Scheme != "exec" {
		switch {
		case len(args) > 0:
			return nil, fmt.Errorf("arguments after -- are for local programs; %s is a %s target", t, t.Scheme)
		case f.autoMTLS != execruntime.DefaultAutoMTLS:
			return nil, fmt.Errorf("--auto-mtls is for local programs; %s is a %s target", t, t.Scheme)
		}
		return nil, nil
	}
	// A local plugin's stdout would mix with the command's output.
	opts := []tether.Option{tether.WithArgs(args...), tether.WithStdout(f.stderr())}
	return append(opts, autoMTLSOption(f.autoMTLS)), nil
}

// startTimeout is the start timeout of a launch within ctx: timeout, or a
// little less than what ctx has left, so that the load's own timeout fires
// first and says why it failed (the last connection error: a TLS alert,
// say) rather than only that ctx ended.
func startTimeout(ctx context.Context, timeout time.Duration) time.Duration {
	const margin = 100 * time.Millisecond
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl) - margin; left > 0 && left < timeout {
			return left
		}
	}
	return timeout
}

// explainLaunch adds to a launch error the flag that would fix it.
func explainLaunch(err error) error {
	var ve *tether.VersionError
	switch {
	case errors.As(err, &ve) && ve.Interface == "":
		return fmt.Errorf("%w (offer its version with --protocol-version)", err)
	case errors.Is(err, tether.ErrWrongCookie):
		return fmt.Errorf("%w (pass its host application's cookie with --cookie KEY=VALUE)", err)
	}
	return err
}

// onSignals returns a context cancelled by Ctrl-C or SIGTERM, so that a
// command can stop its plugin cleanly before it exits, and a function that
// turns the error of a command cut short that way into exit status 130.
func onSignals(parent context.Context) (ctx context.Context, stop context.CancelFunc, interrupted func(error) error) {
	ctx, stop = signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
	return ctx, stop, func(err error) error {
		if ctx.Err() != nil && parent.Err() == nil {
			return &exitError{code: exitInterrupted, err: errors.New("interrupted; the plugin was stopped")}
		}
		return err
	}
}

// stop kills the plugin, each step bounded, whatever state ctx is in.
func stop(c *tether.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = c.Kill(ctx)
}

// splitDash separates a command's own arguments from the plugin's, which
// follow "--".
func splitDash(cmd *cobra.Command, args []string) (own, plugin []string) {
	if at := cmd.ArgsLenAtDash(); at >= 0 {
		return args[:at], args[at:]
	}
	return args, nil
}

// autoMTLSOption is the option --auto-mtls stands for, on or off: its
// default is the exec runtime's (on only on Windows).
func autoMTLSOption(on bool) tether.Option {
	if on {
		return tether.WithAutoMTLS()
	}
	return tether.WithoutAutoMTLS()
}
