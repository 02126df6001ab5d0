package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/tetherplug/tether/internal/pb/tetherv1"
	"github.com/tetherplug/tether/internal/statefile"
	"github.com/tetherplug/tether/supervise"
)

// Options configure a daemon.
type Options struct {
	// Logger receives the daemon's records and its plugins'; nil means
	// slog.Default().
	Logger *slog.Logger
	// Reload, for Run: each value received reloads the manifest, as
	// Daemon.Reload does (the CLI sends one per SIGHUP).
	Reload <-chan struct{}
	// StopTimeout bounds how long Run waits for the plugins to stop once
	// its context ends; 0 means 30 s.
	StopTimeout time.Duration
	// Started, for Run, is called with the daemon once it has started,
	// before Run waits (the CLI shows the plugins' start-up from there).
	Started func(*Daemon)
	// MetricsAddr, if set, is where to serve Prometheus metrics at
	// /metrics (see MetricsAddress and docs/observability.md).
	MetricsAddr string
}

// Daemon is a running `tether run`: a supervisor of a manifest's plugins
// and the control socket that reports and steers it.
type Daemon struct {
	file   string
	log    *slog.Logger
	sup    *supervise.Supervisor
	hub    *hub
	socket string
	lis    net.Listener
	srv    *grpc.Server
	served chan struct{}

	metrics *metricsServer // nil without Options.MetricsAddr

	closing   chan struct{}
	closeOnce sync.Once
	closeErr  error

	stopReq  chan struct{} // closed when the control socket asks the daemon to stop
	stopOnce sync.Once

	genMu sync.Mutex
	gens  map[string]generation // per instance, for Restart's wait

	mu        sync.Mutex
	manifest  *Manifest // the one last applied or proposed
	reloadErr error     // why the latest reload was refused
}

// Start loads the manifest at file, listens on its control socket (refusing
// to when another daemon answers there), and starts its plugins. It
// returns once the plugins' starts are under way.
func Start(ctx context.Context, file string, opts Options) (*Daemon, error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	m, err := Load(file)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(m.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	if err := ownedDir(m.DataDir); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	lis, err := listen(ctx, m.Socket)
	if err != nil {
		return nil, err
	}
	var metricsLis net.Listener // before any plugin starts: a taken port fails at once
	if opts.MetricsAddr != "" {
		if metricsLis, err = listenMetrics(opts.MetricsAddr); err != nil {
			_ = lis.Close()
			return nil, err
		}
	}
	d := &Daemon{file: file, log: log, hub: newHub(), socket: m.Socket, lis: lis,
		served: make(chan struct{}), closing: make(chan struct{}), manifest: m,
		stopReq: make(chan struct{}), gens: map[string]generation{}}
	d.sup, err = supervise.New(supervise.Config{Dir: m.DataDir, Logger: wordedLogger(log),
		OnEvent: d.onEvent, QuietPeriod: m.QuietPeriod})
	if err != nil {
		_ = lis.Close()
		closeListener(metricsLis)
		return nil, err
	}
	if err := d.sup.Apply(ctx, m.Specs); err != nil {
		_ = d.sup.Close(ctx)
		_ = lis.Close()
		closeListener(metricsLis)
		return nil, fmt.Errorf("manifest %s: %w", file, err)
	}
	if metricsLis != nil {
		d.metrics = serveMetrics(metricsLis, d.sup, log)
	}
	d.srv = grpc.NewServer()
	tetherv1.RegisterDaemonServer(d.srv, &control{d: d})
	go func() {
		defer close(d.served)
		_ = d.srv.Serve(lis)
	}()
	log.Info("tether run: serving", "manifest", file, "socket", m.Socket, "data_dir", m.DataDir, "plugins", len(m.Specs))
	return d, nil
}

// Socket is the control socket's path.
func (d *Daemon) Socket() string { return d.socket }

// Supervisor is the daemon's supervisor.
func (d *Daemon) Supervisor() *supervise.Supervisor { return d.sup }

// Reload reads the manifest again and proposes its plugins to the
// supervisor, which applies them once reloads stop coming for the quiet
// period. A manifest that does not parse is refused: the error is logged,
// reported by Status, returned, and the running set is kept. A change of
// data_dir, socket or quiet_period takes a restart of the daemon.
func (d *Daemon) Reload() error {
	_, err := d.reload()
	return err
}

// reload is Reload, returning the manifest proposed.
func (d *Daemon) reload() (*Manifest, error) {
	m, err := Load(d.file)
	d.mu.Lock()
	d.reloadErr = err
	old := d.manifest
	if err == nil {
		d.manifest = m
	}
	d.mu.Unlock()
	if err != nil {
		d.log.Error("the manifest was not reloaded; the running set is kept", "manifest", d.file, "err", err)
		return nil, err
	}
	if m.DataDir != old.DataDir || m.Socket != old.Socket || m.QuietPeriod != old.QuietPeriod {
		d.log.Warn("data_dir, socket and quiet_period changes take effect when tether run restarts", "manifest", d.file)
	}
	d.log.Info("manifest reloaded", "manifest", d.file, "plugins", len(m.Specs))
	d.sup.Propose(m.Specs)
	return m, nil
}

// StopRequested is closed when a client of the control socket asked the
// daemon to stop (tether stop). Run then stops it; a program that uses
// Start instead calls Close.
func (d *Daemon) StopRequested() <-chan struct{} { return d.stopReq }

// Close stops the control socket (removing it) and the supervisor, which
// stops every plugin except those marked outlive.
func (d *Daemon) Close(ctx context.Context) error {
	d.closeOnce.Do(func() {
		close(d.closing) // ends Watch and Logs streams
		d.stopServer()
		<-d.served
		if d.metrics != nil {
			d.metrics.close()
		}
		_ = os.Remove(d.socket)
		d.closeErr = d.sup.Close(ctx)
		d.log.Info("tether run: stopped", "manifest", d.file)
	})
	return d.closeErr
}

// Run is Start, then reloads on each opts.Reload until ctx ends, then
// Close.
func Run(ctx context.Context, file string, opts Options) error {
	d, err := Start(ctx, file, opts)
	if err != nil {
		return err
	}
	if opts.Started != nil {
		opts.Started(d)
	}
	for {
		select {
		case <-opts.Reload:
			_ = d.Reload()
			continue
		case <-ctx.Done():
		case <-d.stopReq:
			d.log.Info("tether run: stopping, as asked on the control socket", "manifest", file)
		}
		break
	}
	timeout := opts.StopTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return d.Close(stopCtx)
}

// serverGrace bounds how long Close lets calls in flight on the control
// socket finish (the Stop call's answer, a Status) before cutting them.
const serverGrace = 2 * time.Second

// stopServer stops the control socket's server, letting calls in flight
// finish for up to serverGrace.
func (d *Daemon) stopServer() {
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.srv.GracefulStop()
	}()
	t := time.NewTimer(serverGrace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		d.srv.Stop()
		<-done
	}
}

// ownedDir refuses a directory (or the one a link at dir leads to) that
// another user owns: they could replace the control socket or forge the
// state.
func ownedDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	return statefile.CheckOwner(dir, fi)
}

// closeListener closes lis, if any.
func closeListener(lis net.Listener) {
	if lis != nil {
		_ = lis.Close()
	}
}
