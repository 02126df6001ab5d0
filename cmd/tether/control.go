package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
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
	cmd.Flags().StringVar(&s.path, "socket", "", "the control socket of tether run (default $"+daemon.EnvSocket+", else the default data directory's control.sock)")
}

// dial connects to the daemon's control socket.
func (s *socketFlag) dial() (*grpc.ClientConn, string, error) {
	path := s.path
	if path == "" {
		path = os.Getenv(daemon.EnvSocket)
	}
	if path == "" {
		var err error
		if path, err = daemon.DefaultSocket(); err != nil {
			return nil, "", err
		}
	}
	if _, err := os.Stat(path); err != nil {
		return nil, path, fmt.Errorf("no tether run daemon at %s: %w", path, err)
	}
	conn, err := daemon.Dial(path)
	return conn, path, err
}

// callError explains a failed call on the control socket.
func callError(path string, err error) error {
	if st, ok := status.FromError(err); ok {
		return fmt.Errorf("tether run at %s: %s", path, st.Message())
	}
	return fmt.Errorf("tether run at %s: %w", path, err)
}

func newStatusCmd() *cobra.Command {
	var sock socketFlag
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status [--json] [--socket PATH]",
		Short: "Show every plugin a tether run daemon supervises",
		Long: `Status asks a running "tether run" for its plugins: name, state (starting,
running, backoff, failed, stopped, unreachable), pid, restarts, uptime, how the
last incarnation ended, endpoint and negotiated interface versions; and, for a
plugin whose output cannot be written to its log files (a full disk...), a
line "NAME: log writes failing since TIME (AGO ago), N lines dropped: ERROR".
--json prints the same, with the daemon's pid, manifest and apply count, as
one JSON object.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			conn, path, err := sock.dial()
			if err != nil {
				return err
			}
			defer conn.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), callTimeout)
			defer cancel()
			resp, err := tetherv1.NewDaemonClient(conn).Status(ctx, &tetherv1.StatusRequest{})
			if err != nil {
				return callError(path, err)
			}
			if asJSON {
				return printStatusJSON(cmd.OutOrStdout(), resp)
			}
			return printStatusTable(cmd.OutOrStdout(), resp)
		},
	}
	sock.add(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// statusJSON is status --json's output.
type statusJSON struct {
	Manifest        string         `json:"manifest"`
	Pid             int32          `json:"pid"`
	Applies         int64          `json:"applies"`
	LastReloadError string         `json:"last_reload_error,omitempty"`
	Plugins         []instanceJSON `json:"plugins"`
}

type instanceJSON struct {
	Name      string           `json:"name"`
	Target    string           `json:"target"`
	State     string           `json:"state"`
	Pid       int32            `json:"pid,omitempty"`
	Restarts  int32            `json:"restarts"`
	Since     time.Time        `json:"since"`
	UptimeSec float64          `json:"uptime_seconds,omitempty"`
	Adopted   bool             `json:"adopted,omitempty"`
	LastExit  string           `json:"last_exit,omitempty"`
	LastError string           `json:"last_error,omitempty"`
	Endpoint  string           `json:"endpoint,omitempty"`
	Versions  map[string]int32 `json:"versions,omitempty"`
	// Set while its output cannot be written to its log files.
	LogError        string     `json:"log_error,omitempty"`
	LogFailingSince *time.Time `json:"log_failing_since,omitempty"`
	LogLinesDropped int64      `json:"log_lines_dropped,omitempty"`
}

func uptime(is *tetherv1.InstanceStatus) time.Duration {
	if is.GetState() != "running" {
		return 0
	}
	return time.Since(time.Unix(0, is.GetSinceUnixNano()))
}

func printStatusJSON(w io.Writer, resp *tetherv1.StatusResponse) error {
	out := statusJSON{Manifest: resp.GetManifest(), Pid: resp.GetPid(), Applies: resp.GetApplies(),
		LastReloadError: resp.GetLastReloadError(), Plugins: []instanceJSON{}}
	for _, is := range resp.GetInstances() {
		ij := instanceJSON{Name: is.GetName(), Target: is.GetTarget(), State: is.GetState(),
			Pid: is.GetPid(), Restarts: is.GetRestarts(), Since: time.Unix(0, is.GetSinceUnixNano()).UTC(),
			UptimeSec: uptime(is).Seconds(), Adopted: is.GetAdopted(), LastExit: is.GetLastExit(),
			LastError: is.GetLastError(), Endpoint: is.GetEndpoint(), Versions: is.GetVersions(),
			LogError: is.GetLogError(), LogLinesDropped: is.GetLogLinesDropped()}
		if is.GetLogError() != "" {
			since := time.Unix(0, is.GetLogFailingSinceUnixNano()).UTC()
			ij.LogFailingSince = &since
		}
		out.Plugins = append(out.Plugins, ij)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func printStatusTable(w io.Writer, resp *tetherv1.StatusResponse) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tPID\tRESTARTS\tUPTIME\tLAST EXIT\tENDPOINT\tVERSIONS")
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	for _, is := range resp.GetInstances() {
		pid, up := "-", "-"
		if is.GetPid() != 0 {
			pid = fmt.Sprint(is.GetPid())
		}
		if d := uptime(is); d > 0 {
			up = d.Round(time.Second).String()
		}
		var vs []string
		for _, k := range slices.Sorted(maps.Keys(is.GetVersions())) {
			vs = append(vs, fmt.Sprintf("%s@%d", k, is.GetVersions()[k]))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", is.GetName(), is.GetState(), pid, is.GetRestarts(), up,
			dash(is.GetLastExit()), dash(is.GetEndpoint()), dash(strings.Join(vs, ",")))
	}
	if e := resp.GetLastReloadError(); e != "" {
		fmt.Fprintf(tw, "\nlast reload refused: %s\n", e)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, is := range resp.GetInstances() {
		if is.GetLogError() != "" {
			since := time.Unix(0, is.GetLogFailingSinceUnixNano())
			fmt.Fprintf(w, "%s: log writes failing since %s (%s ago), %d lines dropped: %s\n", is.GetName(),
				since.UTC().Format(time.DateTime+" MST"), time.Since(since).Round(time.Second), is.GetLogLinesDropped(),
				is.GetLogError())
		}
	}
	return nil
}

func newRestartCmd() *cobra.Command {
	var sock socketFlag
	cmd := &cobra.Command{
		Use:   "restart NAME [--socket PATH]",
		Short: "Restart a plugin a tether run daemon supervises; a failed one gets its restart budget back",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			conn, path, err := sock.dial()
			if err != nil {
				return err
			}
			defer conn.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), callTimeout)
			defer cancel()
			if _, err := tetherv1.NewDaemonClient(conn).Restart(ctx, &tetherv1.RestartRequest{Name: args[0]}); err != nil {
				return callError(path, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "restarting %s\n", args[0])
			return nil
		},
	}
	sock.add(cmd)
	return cmd
}

func newLogsCmd() *cobra.Command {
	var sock socketFlag
	var followFlag, stdout, stderr bool
	var lines int
	cmd := &cobra.Command{
		Use:   "logs NAME [-f] [--stderr|--stdout] [-n N] [--socket PATH]",
		Short: "Print a supervised plugin's log file (stderr by default), rotated files included",
		Long: `Logs prints what a plugin a "tether run" daemon supervises wrote on stderr
(or on stdout with --stdout), from the log files the daemon keeps in its data
directory, oldest rotated file first. -n N prints the last N lines only; -f
then keeps printing what the plugin writes, across rotations, until
interrupted.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if stdout && stderr {
				return errors.New("--stdout and --stderr: give one")
			}
			req := &tetherv1.LogsRequest{Name: args[0], Stream: "stderr", Follow: followFlag}
			if stdout {
				req.Stream = "stdout"
			}
			switch {
			case lines == 0:
				req.Tail = -1
			case lines > 0:
				req.Tail = int32(min(lines, 1<<30))
			}
			return printLogs(cmd, &sock, req)
		},
	}
	sock.add(cmd)
	fs := cmd.Flags()
	fs.BoolVarP(&followFlag, "follow", "f", false, "keep printing what is appended")
	fs.BoolVar(&stdout, "stdout", false, "the plugin's stdout")
	fs.BoolVar(&stderr, "stderr", false, "the plugin's stderr (the default)")
	fs.IntVarP(&lines, "lines", "n", -1, "print the last N lines only (default all)")
	return cmd
}

// printLogs streams the log to stdout until it ends or, following, until
// SIGINT or SIGTERM.
func printLogs(cmd *cobra.Command, sock *socketFlag, req *tetherv1.LogsRequest) error {
	conn, path, err := sock.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stream, err := tetherv1.NewDaemonClient(conn).Logs(ctx, req)
	if err != nil {
		return callError(path, err)
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
			return callError(path, err)
		}
		if _, err := out.Write(msg.GetData()); err != nil {
			return err
		}
	}
}
