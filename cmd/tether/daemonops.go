package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tetherplug/tether/internal/pb/tetherv1"
	"github.com/tetherplug/tether/internal/proc"
)

func init() {
	register(newReloadCmd)
	register(newStopCmd)
}

func newReloadCmd() *cobra.Command {
	var sock socketFlag
	cmd := &cobra.Command{
		Use:   "reload [--socket PATH]",
		Short: "Have a tether run daemon read its manifest again, as SIGHUP does, and say what changes",
		Long: `Reload has a running "tether run" read its manifest again, as SIGHUP does,
and prints what the new manifest changes: the plugins added, removed and
changed (restarted), applied once reloads stop coming for the quiet period.
A manifest that is refused (it does not parse, or names a program or TLS
file that is not there) is an error naming the file, the plugin and the
field, and the running set is kept.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			conn, err := sock.dial()
			if err != nil {
				return err
			}
			defer conn.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), callTimeout)
			defer cancel()
			resp, err := conn.client().Reload(ctx, &tetherv1.ReloadRequest{})
			if status.Code(err) == codes.FailedPrecondition {
				return fmt.Errorf("reload refused, the running set is kept: %s", status.Convert(err).Message())
			}
			if err != nil {
				return conn.callError(err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), reloadSummary(resp))
			return nil
		},
	}
	sock.add(cmd)
	return cmd
}

// reloadSummary is reload's line: what changes, and when.
func reloadSummary(r *tetherv1.ReloadResponse) string {
	var parts []string
	for _, p := range []struct {
		what  string
		names []string
	}{{"added", r.GetAdded()}, {"removed", r.GetRemoved()}, {"changed", r.GetChanged()}} {
		if len(p.names) > 0 {
			parts = append(parts, p.what+" "+strings.Join(p.names, ", "))
		}
	}
	if len(parts) == 0 {
		return fmt.Sprintf("reloaded: no change (%d plugins unchanged)", r.GetUnchanged())
	}
	return fmt.Sprintf("reloaded: %s; %d unchanged; applied once no reload comes for %v",
		strings.Join(parts, "; "), r.GetUnchanged(), time.Duration(r.GetQuietPeriodNanos()))
}

func newStopCmd() *cobra.Command {
	var sock socketFlag
	var noWait bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "stop [--no-wait] [--timeout D] [--socket PATH]",
		Short: "Stop a tether run daemon gracefully, as SIGTERM does, and wait until it has exited",
		Long: `Stop has a running "tether run" stop as SIGTERM does: it stops its plugins
(except those marked outlive), removes its control socket and exits. Stop
waits until the daemon's process has exited, at most --timeout, and prints
"stopped tether run (pid PID)"; --no-wait returns once the daemon has been
asked.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runStop(cmd, &sock, !noWait, timeout)
		},
	}
	sock.add(cmd)
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "return once the daemon has been asked to stop")
	cmd.Flags().DurationVar(&timeout, "timeout", time.Minute, "how long to wait for the daemon to exit")
	return cmd
}

func runStop(cmd *cobra.Command, sock *socketFlag, wait bool, timeout time.Duration) error {
	if wait && timeout <= 0 {
		return fmt.Errorf("--timeout %v: want a positive duration", timeout)
	}
	conn, err := sock.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(cmd.Context(), callTimeout)
	defer cancel()
	var daemonProc *proc.Adopted
	if wait {
		// Held before asking, so that the wait is on that very process:
		// a pid reused after it exited is never mistaken for it.
		if daemonProc, err = holdDaemon(ctx, conn); err != nil {
			return err
		}
		defer daemonProc.Release()
	}
	resp, err := conn.client().Stop(ctx, &tetherv1.StopRequest{})
	if err != nil {
		return conn.callError(err)
	}
	if !wait {
		fmt.Fprintf(cmd.OutOrStdout(), "stopping tether run (pid %d)\n", resp.GetPid())
		return nil
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	stopLine := statusOn(cmd.ErrOrStderr()).waitLine(func(elapsed time.Duration) string {
		return fmt.Sprintf("waiting for tether run (pid %d) to stop its plugins and exit (%.1fs, at most %v)",
			resp.GetPid(), elapsed.Seconds(), timeout)
	})
	defer stopLine()
	select {
	case <-daemonProc.Exited():
		fmt.Fprintf(cmd.OutOrStdout(), "stopped tether run (pid %d)\n", resp.GetPid())
		return nil
	case <-t.C:
		return fmt.Errorf("tether run (pid %d) has not exited within %v: it is still stopping its plugins", resp.GetPid(), timeout)
	case <-cmd.Context().Done():
		return cmd.Context().Err()
	}
}

// holdDaemon takes hold of the daemon's process, found by the pid it
// reports, to wait for its exit.
func holdDaemon(ctx context.Context, conn *daemonConn) (*proc.Adopted, error) {
	st, err := conn.client().Status(ctx, &tetherv1.StatusRequest{})
	if err != nil {
		return nil, conn.callError(err)
	}
	pid := int(st.GetPid())
	start, err := proc.StartTime(pid)
	if err == nil {
		var a *proc.Adopted
		if a, err = proc.Adopt(pid, start); err == nil {
			return a, nil
		}
	}
	if errors.Is(err, proc.ErrProcessGone) {
		return nil, &noDaemonError{Path: conn.path, From: conn.from, Err: err}
	}
	return nil, fmt.Errorf("tether run at %s (pid %d): cannot wait for its exit: %w; stop it with --no-wait", conn.path, pid, err)
}
