package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/tetherplug/tether/daemon"
)

func init() { register(newRunCmd) }

func newRunCmd() *cobra.Command {
	var plainLog, verbose bool
	var metricsFlag string
	cmd := &cobra.Command{
		Use:   "run FILE.yaml",
		Short: "Supervise the plugins of a manifest, with a control socket for status, restart and logs",
		Long: `Run is the plugin host daemon: it starts the local plugins the manifest
FILE.yaml lists and restarts them under their restart policy (with backoff
and a restart budget, after which a plugin is failed until "tether restart"),
watches the health of its network plugins, and serves a control socket
(owner-only) for "tether status", "tether restart", "tether logs", "tether
reload" and "tether stop". Other host programs reach its plugins with the
target run://NAME.

SIGHUP (or "tether reload") reloads the manifest: only plugins whose entry
changed are restarted, and reloads in a burst are applied once; a manifest
that does not parse is refused with the error and the running set is kept.
SIGTERM or SIGINT (or "tether stop") stops the plugins (except those marked
outlive) and exits 0. It logs JSON lines on
stderr (text with --log-text). See docs/supervision.md for the manifest.

--metrics ADDR serves Prometheus metrics at http://ADDR/metrics: each
plugin's calls by method and code, their latency, and its state, restarts
and last exit (docs/observability.md). A port (9090) or :PORT listens on
127.0.0.1 only; name a host (0.0.0.0:9090) to serve other machines.`,
		Example: `  tether run plugins.yaml
  tether run plugins.yaml --metrics 9090
  tether status
  tether logs greeter -f`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := &slog.HandlerOptions{Level: slog.LevelInfo}
			if verbose {
				opts.Level = slog.LevelDebug
			}
			var out io.Writer = os.Stderr
			line := stderrTTYLine() // nil unless stderr is a terminal
			if line != nil {
				out = line
			}
			var h slog.Handler = slog.NewJSONHandler(out, opts)
			if plainLog {
				h = slog.NewTextHandler(out, opts)
			}
			addr := ""
			if metricsFlag != "" {
				var err error // the same forms as tether serve's --metrics
				if addr, err = metricsAddr(metricsFlag); err != nil {
					return &exitError{code: 2, err: err}
				}
			}
			return runDaemon(cmd.Context(), args[0], slog.New(h), line, metricsFlag, addr)
		},
	}
	cmd.Flags().BoolVar(&plainLog, "log-text", false, "log plain text lines instead of JSON")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "log debug lines too")
	cmd.Flags().StringVar(&metricsFlag, "metrics", "", "serve Prometheus metrics at http://`ADDR`/metrics: a port (9090, on loopback) or host:port")
	return cmd
}

// runDaemon runs the daemon until SIGTERM or SIGINT, reloading on SIGHUP.
// With a line (stderr is a terminal), a start-up that takes longer than a
// second shows its progress there. metricsFlag is --metrics as given,
// metricsAddr the address it stands for ("" for none).
func runDaemon(parent context.Context, file string, log *slog.Logger, line *ttyLine, metricsFlag, metricsAddr string) error {
	if parent == nil {
		parent = context.Background()
	}
	ctx, stop := signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 8)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reload := make(chan struct{})
	go func() {
		for {
			select {
			case <-hup:
				select {
				case reload <- struct{}{}:
				case <-ctx.Done():
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	opts := daemon.Options{Logger: log, Reload: reload, MetricsAddr: metricsAddr}
	if line != nil {
		opts.Started = func(d *daemon.Daemon) { go line.showStartup(ctx, d) }
	}
	err := daemon.Run(ctx, file, opts)
	if errors.Is(err, daemon.ErrRunning) {
		return &exitError{code: 2, err: err}
	}
	if errors.Is(err, daemon.ErrMetricsListen) {
		return fmt.Errorf("--metrics %s: %w", metricsFlag, err)
	}
	if err != nil {
		return fmt.Errorf("run %s: %w", file, err)
	}
	return nil
}
