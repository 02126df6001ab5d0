//go:build unix

package supervise_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tetherplug/tether/internal/proc"
	"github.com/tetherplug/tether/supervise"
)

// TestNewRefusesIrregularStateFile: a state.json that is a FIFO (or a link)
// stops New at once with an error naming it, instead of blocking it (or
// reading /dev/zero until memory runs out).
func TestNewRefusesIrregularStateFile(t *testing.T) {
	t.Parallel()
	// In this order, failing at the first: before the fix the link would
	// be read until memory runs out.
	for _, c := range []struct {
		what string
		mk   func(path string) error
	}{
		{"a named pipe (FIFO)", func(path string) error { return syscall.Mkfifo(path, 0o600) }},
		{"a symbolic link", func(path string) error { return os.Symlink("/dev/zero", path) }},
	} {
		what := c.what
		dir := t.TempDir()
		path := filepath.Join(dir, "state.json")
		if err := c.mk(path); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			s, err := supervise.New(supervise.Config{Dir: dir, Logger: quiet()})
			if err == nil {
				closeSupervisor(t, s)
			}
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), path+" is "+what+", not a regular file") {
				t.Fatalf("New over %s: %v; want a refusal naming it", what, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("New over %s did not return within 5 s", what)
		}
	}
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// TestDataDirectory: the state file, pid file and log files of a running
// instance, all owner-only.
func TestDataDirectory(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	s, ev := newDurable(t, dir, nil)
	apply(t, s, echoSpec(t, "echo", "ECHO_MODE=logs"))
	pid := ev.next("echo", 10*time.Second, supervise.Ready).Pid
	call(t, echoOf(t, s, "echo"), "x")
	eventually(t, 5*time.Second, "the pid file written", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "run", "echo.pid"))
		return strings.TrimSpace(string(b)) == strconv.Itoa(pid)
	})
	eventually(t, 5*time.Second, "stderr in the log file", func() bool {
		b, _ := os.ReadFile(s.LogPath("echo", "stderr"))
		return bytes.Contains(b, []byte("plain line\n"))
	})
	var st struct {
		Instances map[string]struct {
			Reattach struct{ Pid int }
		}
	}
	eventually(t, 5*time.Second, "the state file recording the pid", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "state.json"))
		return json.Unmarshal(b, &st) == nil && st.Instances["echo"].Reattach.Pid == pid
	})
	for _, p := range []string{dir, filepath.Join(dir, "run"), filepath.Join(dir, "logs")} {
		if m := mode(t, p); m != 0o700 {
			t.Errorf("%s: mode %v, want 0700", p, m)
		}
	}
	for _, p := range []string{filepath.Join(dir, "state.json"), filepath.Join(dir, "run", "echo.pid"), s.LogPath("echo", "stderr")} {
		if m := mode(t, p); m != 0o600 {
			t.Errorf("%s: mode %v, want 0600", p, m)
		}
	}
}

// TestReusedPidIsNotAdopted: a recorded pid that now belongs to another
// process (its start time differs) is neither adopted nor signalled: the
// instance is started anew.
func TestReusedPidIsNotAdopted(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	other := exec.Command("sleep", "60")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- other.Wait() }()
	t.Cleanup(func() { _ = other.Process.Kill(); <-exited })
	start, err := proc.StartTime(other.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	spec := echoSpec(t, "echo")
	writeState(t, dir, spec, other.Process.Pid, start+1)

	s, ev := newDurable(t, dir, nil)
	apply(t, s, spec)
	got := ev.next("echo", 10*time.Second, supervise.Adopted, supervise.Started)
	if got.Kind != supervise.Started || got.Pid == other.Process.Pid {
		t.Fatalf("event %s pid %d: want a new process, not the recorded %d", got.Kind, got.Pid, other.Process.Pid)
	}
	select {
	case err := <-exited:
		t.Fatalf("the unrelated process was signalled: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
}

// writeState writes a state file recording spec's instance as running
// with pid and start time.
func writeState(t *testing.T, dir string, spec supervise.Spec, pid int, start uint64) {
	t.Helper()
	st := map[string]any{"version": 1, "instances": map[string]any{spec.Name: map[string]any{
		"hash": spec.Hash(), "target": spec.Target, "state": "running",
		"reattach": map[string]any{"plugin": spec.Name, "network": "unix", "address": "/nonexistent/plugin.sock",
			"protocol": "grpc", "protocol_version": 1, "pid": pid, "start_time": start},
	}}}
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "state.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
}
