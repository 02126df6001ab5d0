package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tetherplug/tether/daemon"
	"github.com/tetherplug/tether/internal/pb/tetherv1"
)

func init() {
	register(newStatusCmd)
	register(newRestartCmd)
	register(newLogsCmd)
}

// callTimeout bounds the control socket's unary calls.
const callTimeout = 10 * time.Second

// socketFlag is the --socket flag of the commands that talk to tether run.
type socketFlag struct{ path string }

func (s *socketFlag) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&s.path, "socket", "", "the control socket of tether run (if not given: $"+daemon.EnvSocket+", else the default data directory's control.sock)")
}

// resolve is the socket to use and where its path came from.
func (s *socketFlag) resolve() (path, from string, err error) {
	switch {
	case s.path != "":
		return s.path, "--socket", nil
	case os.Getenv(daemon.EnvSocket) != "":
		return os.Getenv(daemon.EnvSocket), "$" + daemon.EnvSocket, nil
	}
	path, err = daemon.DefaultSocket()
	return path, "the default", err
}

// noDaemonError is a command that found no tether run daemon: it names the
// socket tried, where that path came from, and how to name another.
type noDaemonError struct {
	Path string // the socket tried
	From string // "--socket", "$TETHER_RUN_SOCKET" or "the default"
	Err  error  // why: no such file, connection refused...
}

func (e *noDaemonError) Error() string {
	return fmt.Sprintf("no tether run daemon answers at %s (socket from %s): %v; start one with \"tether run FILE.yaml\", "+
		"or name its socket with --socket PATH or %s=PATH", e.Path, e.From, e.Err, daemon.EnvSocket)
}

func (e *noDaemonError) Unwrap() error { return e.Err }

// daemonConn is a connection to tether run's control socket.
type daemonConn struct {
	*grpc.ClientConn
	path, from string
}

// dial connects to the daemon's control socket.
func (s *socketFlag) dial() (*daemonConn, error) {
	path, from, err := s.resolve()
	if err != nil {
		return nil, fmt.Errorf("the control socket of tether run: %w; name it with --socket PATH or %s=PATH", err, daemon.EnvSocket)
	}
	if _, err := os.Stat(path); err != nil {
		return nil, &noDaemonError{Path: path, From: from, Err: errors.Unwrap(err)}
	}
	conn, err := daemon.Dial(path)
	if err != nil {
		return nil, &noDaemonError{Path: path, From: from, Err: err}
	}
	return &daemonConn{ClientConn: conn, path: path, from: from}, nil
}

func (c *daemonConn) client() tetherv1.DaemonClient { return tetherv1.NewDaemonClient(c.ClientConn) }

// callError explains a failed call on the control socket: one that found
// nobody listening is a *noDaemonError.
func (c *daemonConn) callError(err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return fmt.Errorf("tether run at %s: %w", c.path, err)
	}
	if st.Code() == codes.Unavailable && st.Message() != daemonStopping {
		return &noDaemonError{Path: c.path, From: c.from, Err: errors.New(dialCause(st.Message()))}
	}
	return fmt.Errorf("tether run at %s: %s", c.path, st.Message())
}

// dialCause is the system's word in gRPC's message for a failed dial
// ("connection error: desc = \"transport: Error while dialing: dial unix
// PATH: connect: connection refused\""): "connect: connection refused".
func dialCause(msg string) string {
	if i := strings.LastIndex(msg, "connect: "); i >= 0 {
		return strings.TrimRight(msg[i:], `"`)
	}
	return msg
}

// daemonStopping is the daemon's message to calls cut short by its stop.
const daemonStopping = "tether run is stopping"

// completeNames completes the first argument with the names of the
// plugins the daemon supervises; nothing when no daemon answers.
func completeNames(sock *socketFlag) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		conn, err := sock.dial()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(cmd.Context(), time.Second)
		defer cancel()
		resp, err := conn.client().Status(ctx, &tetherv1.StatusRequest{})
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var names []cobra.Completion
		for _, is := range resp.GetInstances() {
			names = append(names, cobra.CompletionWithDesc(is.GetName(), is.GetState()))
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}

func newRestartCmd() *cobra.Command {
	var sock socketFlag
	var noWait bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "restart NAME [--no-wait] [--timeout D] [--socket PATH]",
		Short: "Restart a plugin a tether run daemon supervises and wait until it is ready; a failed one gets its restart budget back",
		Long: `Restart restarts a plugin a "tether run" daemon supervises, now, whatever
its state (a failed one gets its restart budget back), and waits until it is
ready again: it prints "NAME: running, pid PID". If the plugin fails or stops
instead, or is not ready within --timeout, it says so with its state and last
error and exits 1. --no-wait returns once the restart is under way.`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeNames(&sock),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRestart(cmd, &sock, args[0], !noWait, timeout)
		},
	}
	sock.add(cmd)
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "return once the restart is under way")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "how long to wait for the plugin to be ready")
	return cmd
}

func runRestart(cmd *cobra.Command, sock *socketFlag, name string, wait bool, timeout time.Duration) error {
	if wait && timeout <= 0 {
		return fmt.Errorf("--timeout %v: want a positive duration", timeout)
	}
	conn, err := sock.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	bound := callTimeout
	if wait {
		bound = timeout
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), bound)
	defer cancel()
	stopLine := func() {}
	if wait { // a wait over a second shows on a terminal
		stopLine = statusOn(cmd.ErrOrStderr()).waitLine(func(elapsed time.Duration) string {
			return fmt.Sprintf("waiting for %s to be ready (%.1fs, at most %v)", name, elapsed.Seconds(), timeout)
		})
	}
	resp, err := conn.client().Restart(ctx, &tetherv1.RestartRequest{Name: name, Wait: wait})
	stopLine()
	switch {
	case err != nil && wait && status.Code(err) == codes.DeadlineExceeded:
		return notReady(cmd.Context(), conn, name, timeout)
	case err != nil:
		return conn.callError(err)
	case !wait:
		fmt.Fprintf(cmd.OutOrStdout(), "restarting %s\n", name)
		return nil
	}
	is := resp.GetInstance()
	if is.GetState() != "running" {
		return fmt.Errorf("%s did not come back: %s", name, stateWhy(is))
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s: running%s\n", name, pidNote(is))
	return nil
}

// notReady is restart's error for a plugin not ready within the timeout:
// its state and last error, as the daemon reports them now.
func notReady(parent context.Context, conn *daemonConn, name string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(parent, callTimeout)
	defer cancel()
	resp, err := conn.client().Status(ctx, &tetherv1.StatusRequest{})
	if err != nil {
		return fmt.Errorf("%s not ready within %v", name, timeout)
	}
	for _, is := range resp.GetInstances() {
		if is.GetName() == name {
			return fmt.Errorf("%s not ready within %v: %s", name, timeout, stateWhy(is))
		}
	}
	return fmt.Errorf("%s not ready within %v: it is no longer in the manifest", name, timeout)
}

// stateWhy is "state STATE" and, when there is one, the reason.
func stateWhy(is *tetherv1.InstanceStatus) string {
	s := "state " + is.GetState()
	if r := reason(is); r != "-" {
		s += ": " + r
	}
	return s
}

func pidNote(is *tetherv1.InstanceStatus) string {
	if is.GetPid() == 0 {
		return ""
	}
	return fmt.Sprintf(", pid %d", is.GetPid())
}

func newLogsCmd() *cobra.Command {
	var sock socketFlag
	var followFlag, stdout, stderr bool
	var tail int
	cmd := &cobra.Command{
		Use:   "logs NAME [-f] [--stderr|--stdout] [--tail N] [--socket PATH]",
		Short: "Print a supervised plugin's log file (stderr by default), rotated files included",
		Long: `Logs prints what a plugin a "tether run" daemon supervises wrote on stderr
(or on stdout with --stdout), from the log files the daemon keeps in its data
directory, oldest rotated file first. --tail N prints the last N lines only;
-f then keeps printing what the plugin writes, across rotations, until
interrupted. A network plugin has no local logs: asking for them is an
error saying so.`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeNames(&sock),
		RunE: func(cmd *cobra.Command, args []string) error {
			if stdout && stderr {
				return errors.New("--stdout and --stderr: give one")
			}
			req := &tetherv1.LogsRequest{Name: args[0], Stream: "stderr", Follow: followFlag}
			if stdout {
				req.Stream = "stdout"
			}
			switch {
			case tail == 0:
				req.Tail = -1
			case tail > 0:
				req.Tail = int32(min(tail, 1<<30))
			}
			return printLogs(cmd, &sock, req)
		},
	}
	sock.add(cmd)
	fs := cmd.Flags()
	fs.BoolVarP(&followFlag, "follow", "f", false, "keep printing what is appended")
	fs.BoolVar(&stdout, "stdout", false, "the plugin's stdout")
	fs.BoolVar(&stderr, "stderr", false, "the plugin's stderr (what is printed without --stdout)")
	fs.IntVar(&tail, "tail", -1, "print the last N lines only (-1: all)")
	// -n and --lines were the old names: kept, hidden, with a note.
	fs.IntVarP(&tail, "lines", "n", -1, "print the last N lines only")
	_ = fs.MarkDeprecated("lines", "use --tail N (-n is the namespace in tether kube, as in kubectl)")
	return cmd
}

// printLogs streams the log to stdout until it ends or, following, until
// SIGINT or SIGTERM.
func printLogs(cmd *cobra.Command, sock *socketFlag, req *tetherv1.LogsRequest) error {
	conn, err := sock.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stream, err := conn.client().Logs(ctx, req)
	if err != nil {
		return conn.callError(err)
	}
	out := cmd.OutOrStdout()
	for {
		msg, err := stream.Recv()
		switch {
		case errors.Is(err, io.EOF):
			return nil
		case err != nil && ctx.Err() != nil:
			return nil // interrupted while following
		case err != nil:
			return conn.callError(err)
		}
		if _, err := out.Write(msg.GetData()); err != nil {
			return err
		}
	}
}
