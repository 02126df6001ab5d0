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
	oldPid, oldAddr := c.Pid(), admittedAddress(c)
	killProcess(t, oldPid)
	eventually(t, 10*time.Second, "no new instance was admitted", func() bool {
		a := admittedAddress(c)
		return a != "" && a != oldAddr
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

// slowRestartScript wraps the echo plugin so that every start after the
// first takes a second: the window in which no instance can take calls.
func slowRestartScript(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	script := filepath.Join(dir, "slow-restart")
	body := "#!/bin/sh\nif [ -e '" + dir + "/started' ]; then sleep 1; fi\ntouch '" + dir + "/started'\nexec '" + echoPath(t) + "'\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return script
}

// TestCallsDuringRestart: while the runtime brings up a replacement, calls
// fail fast with ErrUnavailable (the status stays Unavailable), or, with
// WithWaitForReady, wait for the new instance and succeed.
func TestCallsDuringRestart(t *testing.T) {
	t.Parallel()
	for _, wait := range []bool{false, true} {
		name := map[bool]string{false: "fail fast", true: "wait for ready"}[wait]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, opts := echoOpts("", tether.WithRestart())
			if wait {
				opts = append(opts, tether.WithWaitForReady())
			}
			c, err := tether.Launch(t.Context(), slowRestartScript(t), opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			echo, _ := tether.Dispense(c, "echo", echov1.NewEchoClient)
			killProcess(t, c.Pid())
			eventually(t, 5*time.Second, "the killed instance stayed admitted", func() bool { return admittedAddress(c) == "" })
			start := time.Now()
			_, err = echo.Unary(t.Context(), &echov1.Message{Text: "x"})
			took := time.Since(start)
			if wait {
				if err != nil {
					t.Fatalf("call with WithWaitForReady during the restart: %v", err)
				}
				return
			}
			if !errors.Is(err, tether.ErrUnavailable) {
				t.Fatalf("call during the restart: %v, want ErrUnavailable", err)
			}
			if took > 500*time.Millisecond {
				t.Errorf("failing call took %v, want it to fail fast", took)
			}
			eventually(t, 10*time.Second, "no new instance after the slow restart", func() bool { return admittedAddress(c) != "" })
			if _, err := echo.Unary(t.Context(), &echov1.Message{Text: "y"}); err != nil {
				t.Errorf("call after the restart: %v", err)
			}
		})
	}
}
