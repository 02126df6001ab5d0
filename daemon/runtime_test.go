package daemon_test

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/daemon"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/plugintest"
	"github.com/tetherplug/tether/supervise"
	"github.com/tetherplug/tether/tethertest"
)

// startDaemon runs a daemon in this process on a manifest of one echo
// plugin named a, until the test ends.
func startDaemon(t *testing.T) *daemon.Daemon {
	t.Helper()
	d, err := startDaemonOpts(t, daemon.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// startDaemonOpts is startDaemon with opts (a quiet logger unless given),
// returning Start's error.
func startDaemonOpts(t *testing.T, opts daemon.Options) (*daemon.Daemon, error) {
	t.Helper()
	dir, err := os.MkdirTemp("", "tether-run-") // short: the control socket's path has a limit
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	manifest := filepath.Join(dir, "plugins.yaml")
	yaml := "data_dir: " + filepath.Join(dir, "data") + "\nsocket: " + filepath.Join(dir, "control.sock") +
		"\nplugins:\n  - name: a\n    path: " + tethertest.Build(t, plugintest.EchoPlugin) + "\n    backoff: {initial: 1s}\n"
	if err := os.WriteFile(manifest, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	d, err := daemon.Start(context.Background(), manifest, opts)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := d.Close(ctx); err != nil {
			t.Errorf("closing the daemon: %v", err)
		}
	})
	return d, nil
}

// status is the daemon's status of instance name.
func status(t *testing.T, d *daemon.Daemon, name string) supervise.Status {
	t.Helper()
	for _, st := range d.Supervisor().Status() {
		if st.Name == name {
			return st
		}
	}
	t.Fatalf("the daemon has no instance %s", name)
	return supervise.Status{}
}

// TestRunTargetFollowsRestarts: a host reaches a supervised plugin by
// run://NAME, fails fast with ErrUnavailable while the instance is down,
// waits for it with WaitForReady, and keeps working on the restarted
// process; closing the client stops nothing.
func TestRunTargetFollowsRestarts(t *testing.T) {
	d := startDaemon(t)
	plugintest.Eventually(t, 30*time.Second, "a running", func() bool { return status(t, d, "a").State == supervise.StateRunning })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := tether.Open(ctx, "run://a?socket="+d.Socket(), tether.WithStartTimeout(20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	echo := echov1.NewEchoClient(c.Conn())
	call := func(text string, opts ...grpc.CallOption) error {
		cctx, ccancel := context.WithTimeout(ctx, 20*time.Second)
		defer ccancel()
		m, err := echo.Unary(cctx, &echov1.Message{Text: text}, opts...)
		if err == nil && m.GetText() != text {
			t.Errorf("echo of %q: %q", text, m.GetText())
		}
		return err
	}
	if err := call("hello"); err != nil {
		t.Fatalf("first call: %v", err)
	}
	if err := plugintest.Kill(status(t, d, "a").Pid); err != nil {
		t.Fatal(err)
	}
	plugintest.Eventually(t, 10*time.Second, "a in backoff", func() bool { return status(t, d, "a").State == supervise.StateBackoff })
	if err := call("down"); !errors.Is(err, tether.ErrUnavailable) {
		t.Errorf("a call while the instance is down: %v, want ErrUnavailable", err)
	}
	if err := call("again", grpc.WaitForReady(true)); err != nil {
		t.Errorf("a wait-for-ready call across the restart: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if a := status(t, d, "a"); a.Restarts != 1 || a.State != supervise.StateRunning {
		t.Errorf("a: state %s, %d restarts; want running after 1 (closing a run:// client stops nothing)", a.State, a.Restarts)
	}
}

// TestRunTargetErrors: a run:// target that cannot be followed fails Open
// at once saying why: a bad target or an unknown parameter with
// ErrBadTarget, a daemon that is not there with ErrUnavailable naming its
// socket.
func TestRunTargetErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	missing := filepath.Join(t.TempDir(), "nonexistent", "x.sock") // absolute on every OS
	for _, tc := range []struct {
		target, want string
		kind         error
	}{
		{"run://a/b", "want run://NAME", tether.ErrBadTarget},
		{"run://a?port=1", `unknown parameter "port"`, tether.ErrBadTarget},
		{"run://a?socket=rel.sock", "want an absolute path", tether.ErrBadTarget},
		{"run://a?socket=" + url.QueryEscape(missing), "no tether run daemon answers on " + missing, tether.ErrUnavailable},
	} {
		start := time.Now()
		_, err := tether.Open(ctx, tc.target, tether.WithStartTimeout(5*time.Second))
		if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%s): %v, want %v saying %q", tc.target, err, tc.kind, tc.want)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Open(%s) took %v, want a failure at once", tc.target, d)
		}
	}
}
