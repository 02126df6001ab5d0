package daemon

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tetherplug/tether/internal/pb/tetherv1"
)

// TestStopOverTheSocketEndsRun: Stop on the control socket answers with
// the daemon's pid, and Run then stops the daemon and returns nil, its
// socket removed, as it does when its context ends.
func TestStopOverTheSocketEndsRun(t *testing.T) {
	dir := t.TempDir()
	mf := filepath.Join(dir, "m.yaml")
	if err := os.WriteFile(mf, []byte("data_dir: st\nplugins: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	started := make(chan *Daemon, 1)
	ran := make(chan error, 1)
	go func() {
		ran <- Run(t.Context(), mf, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Started: func(d *Daemon) { started <- d }})
	}()
	var d *Daemon
	select {
	case d = <-started:
	case err := <-ran:
		t.Fatalf("Run: %v before it started", err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not start within 10 s")
	}
	conn, err := Dial(d.Socket())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	resp, err := tetherv1.NewDaemonClient(conn).Stop(ctx, &tetherv1.StopRequest{})
	if err != nil || int(resp.GetPid()) != os.Getpid() {
		t.Fatalf("Stop: %v, %v; want this process's pid", resp, err)
	}
	select {
	case err := <-ran:
		if err != nil {
			t.Errorf("Run after Stop: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10 s of Stop")
	}
	if _, err := os.Stat(d.Socket()); !os.IsNotExist(err) {
		t.Errorf("the control socket is still there after Stop: %v", err)
	}
}
