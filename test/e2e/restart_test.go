package e2e_test

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/tethertest"
)

// admittedAddress is the address of the client's admitted instance, or "".
func admittedAddress(c *tether.Client) string {
	for _, in := range c.Instances() {
		if in.Admitted {
			return in.Address
		}
	}
	return ""
}

// trapSocket listens on a dead instance's socket path once its directory
// is gone, and counts the connections anyone makes to it.
func trapSocket(t *testing.T, path string) *atomic.Int64 {
	t.Helper()
	eventually(t, 5*time.Second, "the dead instance's socket directory was not removed", func() bool {
		_, err := os.Stat(filepath.Dir(path))
		return errors.Is(err, os.ErrNotExist)
	})
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lis.Close(); os.RemoveAll(filepath.Dir(path)) })
	var n atomic.Int64
	go func() {
		for {
			conn, err := lis.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			conn.Close()
		}
	}()
	return &n
}

// TestStubSurvivesRestart: a stub dispensed once keeps working when the
// plugin's process is killed and the runtime starts a new one on a new
// socket, and no connection goes to the dead socket once the replacement
// is known.
func TestStubSurvivesRestart(t *testing.T) {
	t.Parallel()
	c := launchEcho(t, "", tether.WithRestart(), tether.WithInterface("echo", 1))
	echo, err := tether.Dispense(c, "echo", echov1.NewEchoClient)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := echo.Unary(t.Context(), &echov1.Message{Text: "before"}); err != nil {
		t.Fatalf("call before the kill: %v", err)
	}
	tethertest.RequireTransport(t, c.Name(), c.Transport())
	oldPid, oldAddr := c.Pid(), admittedAddress(c)
	killProcess(t, oldPid)
	eventually(t, 10*time.Second, "no new instance was admitted", func() bool {
		a := admittedAddress(c)
		return a != "" && a != oldAddr
	})
	// The new instance takes calls over the same transport as the first.
	eventually(t, 10*time.Second, "the new instance's calls went over "+tethertest.ExpectedTransport(), func() bool {
		return string(c.Transport()) == tethertest.ExpectedTransport()
	})
	dialled := trapSocket(t, oldAddr)
	for i := range 100 {
		resp, err := echo.Unary(t.Context(), &echov1.Message{Text: "after"})
		if err != nil || resp.GetText() != "after" {
			t.Fatalf("call %d after the restart: %q, %v", i, resp.GetText(), err)
		}
	}
	if n := dialled.Load(); n != 0 {
		t.Errorf("%d connection(s) to the dead instance's socket after its replacement was known", n)
	}
	if newPid := c.Pid(); newPid == oldPid || newPid == 0 {
		t.Errorf("Pid after the restart = %d, want a new process (old %d)", newPid, oldPid)
	}
	if !reaped(oldPid) {
		t.Errorf("the killed process %d was not reaped", oldPid)
	}
	newPid := c.Pid()
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if !reaped(newPid) {
		t.Errorf("restarted process %d still exists after Close", newPid)
	}
}
