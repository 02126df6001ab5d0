package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/tetherv1"
)

// detailLogLines is how many of its last log lines `tether status NAME`
// shows.
const detailLogLines = 10

func newStatusCmd() *cobra.Command {
	var sock socketFlag
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status [NAME] [--json] [--socket PATH]",
		Short: "Show the plugins a tether run daemon supervises, and why each is in its state",
		Long: `Status asks a running "tether run" for its plugins: name, state (starting,
running, backoff, failed, stopped, unreachable), pid, restarts, uptime, how the
last incarnation ended, endpoint, negotiated interface versions, and REASON:
for a running plugin "launched" (tether run started it), "adopted" (an earlier
tether run did) or "watched" (a network plugin); otherwise its last error or
exit; and "reload refused: ..." while the latest reload was refused because
of its entry. A plugin whose output cannot be written to its log files (a
full disk...) gets a line "NAME: log writes failing since TIME (AGO ago), N
lines dropped: ERROR".

With NAME, status shows that plugin alone, one field a line, with its last
log lines. --json prints the same as JSON: with NAME the plugin's object,
else one object with the daemon's pid, manifest and apply count.`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: completeNames(&sock),
		RunE: func(cmd *cobra.Command, args []string) error {
			conn, err := sock.dial()
			if err != nil {
				return err
			}
			defer conn.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), callTimeout)
			defer cancel()
			resp, err := conn.client().Status(ctx, &tetherv1.StatusRequest{})
			if err != nil {
				return conn.callError(err)
			}
			if len(args) == 1 {
				return printDetail(ctx, cmd.OutOrStdout(), conn, resp, args[0], asJSON)
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
	Name        string           `json:"name"`
	Target      string           `json:"target"`
	State       string           `json:"state"`
	Reason      string           `json:"reason"`
	Pid         int32            `json:"pid,omitempty"`
	Restarts    int32            `json:"restarts"`
	Since       time.Time        `json:"since"`
	UptimeSec   float64          `json:"uptime_seconds,omitempty"`
	Adopted     bool             `json:"adopted,omitempty"`
	LastExit    string           `json:"last_exit,omitempty"`
	LastError   string           `json:"last_error,omitempty"`
	ReloadError string           `json:"reload_error,omitempty"`
	Endpoint    string           `json:"endpoint,omitempty"`
	Versions    map[string]int32 `json:"versions,omitempty"`
	// Set while its output cannot be written to its log files.
	LogError        string     `json:"log_error,omitempty"`
	LogFailingSince *time.Time `json:"log_failing_since,omitempty"`
	LogLinesDropped int64      `json:"log_lines_dropped,omitempty"`
	// LogTail is its last stderr lines: status NAME --json only.
	LogTail []string `json:"log_tail,omitempty"`
}

func uptime(is *tetherv1.InstanceStatus) time.Duration {
	if is.GetState() != "running" {
		return 0
	}
	return time.Since(time.Unix(0, is.GetSinceUnixNano()))
}

// isLocal reports whether the instance is a program tether run launches,
// not a network plugin it only watches.
func isLocal(is *tetherv1.InstanceStatus) bool {
	t, err := tether.ParseTarget(is.GetTarget())
	return err == nil && t.Scheme == "exec"
}

// reason says why the instance is in its state: the latest reload's
// refusal of its entry; running, how it came to run; otherwise its last
// error or exit. "-" when there is nothing to say.
func reason(is *tetherv1.InstanceStatus) string {
	switch {
	case is.GetReloadError() != "":
		return "reload refused: " + is.GetReloadError()
	case is.GetState() == "running" && is.GetAdopted():
		return "adopted"
	case is.GetState() == "running" && isLocal(is):
		return "launched"
	case is.GetState() == "running":
		return "watched"
	case is.GetLastError() != "":
		return is.GetLastError()
	case is.GetLastExit() != "":
		return is.GetLastExit()
	}
	return "-"
}

func toJSON(is *tetherv1.InstanceStatus) instanceJSON {
	ij := instanceJSON{Name: is.GetName(), Target: is.GetTarget(), State: is.GetState(), Reason: reason(is),
		Pid: is.GetPid(), Restarts: is.GetRestarts(), Since: time.Unix(0, is.GetSinceUnixNano()).UTC(),
		UptimeSec: uptime(is).Seconds(), Adopted: is.GetAdopted(), LastExit: is.GetLastExit(),
		LastError: is.GetLastError(), ReloadError: is.GetReloadError(), Endpoint: is.GetEndpoint(),
		Versions: is.GetVersions(), LogError: is.GetLogError(), LogLinesDropped: is.GetLogLinesDropped()}
	if is.GetLogError() != "" {
		since := time.Unix(0, is.GetLogFailingSinceUnixNano()).UTC()
		ij.LogFailingSince = &since
	}
	return ij
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func printStatusJSON(w io.Writer, resp *tetherv1.StatusResponse) error {
	out := statusJSON{Manifest: resp.GetManifest(), Pid: resp.GetPid(), Applies: resp.GetApplies(),
		LastReloadError: resp.GetLastReloadError(), Plugins: []instanceJSON{}}
	for _, is := range resp.GetInstances() {
		out.Plugins = append(out.Plugins, toJSON(is))
	}
	return writeJSON(w, out)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func versions(is *tetherv1.InstanceStatus) string {
	var vs []string
	for _, k := range slices.Sorted(maps.Keys(is.GetVersions())) {
		vs = append(vs, fmt.Sprintf("%s@%d", k, is.GetVersions()[k]))
	}
	return dash(strings.Join(vs, ","))
}

func printStatusTable(w io.Writer, resp *tetherv1.StatusResponse) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tPID\tRESTARTS\tUPTIME\tLAST EXIT\tENDPOINT\tVERSIONS\tREASON")
	for _, is := range resp.GetInstances() {
		pid, up := "-", "-"
		if is.GetPid() != 0 {
			pid = fmt.Sprint(is.GetPid())
		}
		if d := uptime(is); d > 0 {
			up = d.Round(time.Second).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", is.GetName(), is.GetState(), pid, is.GetRestarts(), up,
			dash(is.GetLastExit()), dash(is.GetEndpoint()), versions(is), oneLine(reason(is)))
	}
	if e := resp.GetLastReloadError(); e != "" {
		fmt.Fprintf(tw, "\nlast reload refused: %s\n", e)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, is := range resp.GetInstances() {
		if line := logFailure(is); line != "" {
			fmt.Fprintf(w, "%s: %s\n", is.GetName(), line)
		}
	}
	return nil
}

// logFailure says since when the instance's log writes fail; "" if they
// do not.
func logFailure(is *tetherv1.InstanceStatus) string {
	if is.GetLogError() == "" {
		return ""
	}
	since := time.Unix(0, is.GetLogFailingSinceUnixNano())
	return fmt.Sprintf("log writes failing since %s (%s ago), %d lines dropped: %s",
		since.UTC().Format(time.DateTime+" MST"), time.Since(since).Round(time.Second), is.GetLogLinesDropped(), is.GetLogError())
}

// printDetail is `status NAME`: one plugin, one field a line, then its
// last log lines.
func printDetail(ctx context.Context, w io.Writer, conn *daemonConn, resp *tetherv1.StatusResponse, name string, asJSON bool) error {
	var is *tetherv1.InstanceStatus
	var names []string
	for _, i := range resp.GetInstances() {
		names = append(names, i.GetName())
		if i.GetName() == name {
			is = i
		}
	}
	if is == nil {
		return fmt.Errorf("tether run at %s has no plugin named %q (its plugins: %s)", conn.path, name, dash(strings.Join(names, ", ")))
	}
	tail, logErr := lastLines(ctx, conn, is)
	if asJSON {
		ij := toJSON(is)
		ij.LogTail = tail
		return writeJSON(w, ij)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 1, ' ', 0)
	since := time.Unix(0, is.GetSinceUnixNano())
	pid := "-"
	if is.GetPid() != 0 {
		pid = fmt.Sprint(is.GetPid())
	}
	for _, f := range [][2]string{
		{"name", is.GetName()}, {"target", is.GetTarget()},
		{"state", fmt.Sprintf("%s since %s (%s ago)", is.GetState(), since.UTC().Format(time.DateTime+" MST"),
			time.Since(since).Round(time.Second))},
		{"reason", reason(is)}, {"pid", pid}, {"restarts", fmt.Sprint(is.GetRestarts())},
		{"last exit", dash(is.GetLastExit())}, {"last error", dash(is.GetLastError())},
		{"endpoint", dash(is.GetEndpoint())}, {"versions", versions(is)}, {"log", dash(logFailure(is))},
	} {
		fmt.Fprintf(tw, "%s:\t%s\n", f[0], f[1])
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	printTail(w, is, tail, logErr)
	return nil
}

// printTail is the end of `status NAME`: the plugin's last log lines, or
// why there are none.
func printTail(w io.Writer, is *tetherv1.InstanceStatus, tail []string, logErr error) {
	switch {
	case !isLocal(is):
		fmt.Fprintf(w, "\nno local logs: a network plugin logs where it runs\n")
	case logErr != nil:
		fmt.Fprintf(w, "\nits log could not be read: %v\n", logErr)
	case len(tail) == 0:
		fmt.Fprintf(w, "\nits stderr log is empty\n")
	default:
		fmt.Fprintf(w, "\nlast lines of stderr (tether logs %s):\n", is.GetName())
		for _, l := range tail {
			fmt.Fprintf(w, "  %s\n", l)
		}
	}
}

// lastLines are the instance's last stderr log lines; none for a network
// plugin.
func lastLines(ctx context.Context, conn *daemonConn, is *tetherv1.InstanceStatus) ([]string, error) {
	if !isLocal(is) {
		return nil, nil
	}
	stream, err := conn.client().Logs(ctx, &tetherv1.LogsRequest{Name: is.GetName(), Stream: "stderr", Tail: detailLogLines})
	if err != nil {
		return nil, conn.callError(err)
	}
	var buf bytes.Buffer
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, conn.callError(err)
		}
		buf.Write(msg.GetData())
	}
	if buf.Len() == 0 {
		return nil, nil
	}
	return strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n"), nil
}
