//go:build unix

package proc

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// orphan starts body under /bin/sh in the background of a shell that exits
// at once, so the process is not a child of the test (as a plugin left by
// an earlier host is not), and returns its pid once body has run
// "touch $READY". It is killed at the end.
func orphan(t *testing.T, body string) int {
	t.Helper()
	dir := t.TempDir()
	prog := script(t, dir, "orphan", body)
	ready := filepath.Join(dir, "ready")
	cmd := exec.Command("/bin/sh", "-c", prog+" >/dev/null 2>&1 </dev/null & echo $!")
	cmd.Env = append(os.Environ(), "READY="+ready)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		if !waitDead(pid, 5*time.Second) {
			t.Errorf("orphan %d still alive", pid)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(ready); err == nil {
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatal("orphan not ready within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// signalTrap records every catchable signal it gets in file marker.
func signalTrap(marker string) string {
	return "for s in TERM INT HUP USR1 USR2 QUIT; do trap \"echo $s >> " + marker + "\" $s; done\n" +
		"touch $READY\nwhile :; do sleep 0.05; done\n"
}

func mustStartTime(t *testing.T, pid int) uint64 {
	t.Helper()
	st, err := StartTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// An adopted process is seen to exit and is terminated through its pidfd.
func TestAdoptTerminate(t *testing.T) {
	t.Parallel()
	pid := orphan(t, "trap '' TERM\ntouch $READY\nwhile :; do sleep 0.05; done\n")
	a, err := Adopt(pid, mustStartTime(t, pid))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Release()
	if a.Pid() != pid {
		t.Errorf("Pid = %d", a.Pid())
	}
	select {
	case <-a.Exited():
		t.Fatal("Exited closed while the process runs")
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	t0 := time.Now()
	if err := a.Terminate(ctx, 200*time.Millisecond); err != nil {
		t.Fatalf("Terminate = %v", err)
	}
	if d := time.Since(t0); d < 200*time.Millisecond || d > 5*time.Second {
		t.Errorf("Terminate of a process ignoring SIGTERM took %v, want about 200ms", d)
	}
	select {
	case <-a.Exited():
	case <-time.After(5 * time.Second):
		t.Fatal("Exited not closed after Terminate")
	}
	if !waitDead(pid, 5*time.Second) {
		t.Error("process alive after Terminate")
	}
	if err := a.Signal(syscall.SIGTERM); !errors.Is(err, ErrProcessGone) {
		t.Errorf("Signal after exit = %v, want ErrProcessGone", err)
	}
}

// Exited closes when the adopted process dies by another hand.
func TestAdoptExited(t *testing.T) {
	t.Parallel()
	pid := orphan(t, "touch $READY\nwhile :; do sleep 0.05; done\n")
	a, err := Adopt(pid, mustStartTime(t, pid))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Release()
	_ = syscall.Kill(pid, syscall.SIGKILL)
	select {
	case <-a.Exited():
	case <-time.After(5 * time.Second):
		t.Fatal("Exited not closed within 5s of SIGKILL")
	}
}

// A process whose start time is not the recorded one is not adopted and
// gets no signal.
func TestAdoptMismatchSignalsNothing(t *testing.T) {
	t.Parallel()
	marker := filepath.Join(t.TempDir(), "signals")
	pid := orphan(t, signalTrap(marker))
	st := mustStartTime(t, pid)
	a, err := Adopt(pid, st+1)
	if !errors.Is(err, ErrNotSameProcess) || a != nil {
		t.Fatalf("Adopt with a wrong start time = %v, %v; want ErrNotSameProcess", a, err)
	}
	// Give a stray signal time to reach the trap.
	time.Sleep(300 * time.Millisecond)
	if b, err := os.ReadFile(marker); err == nil {
		t.Errorf("the process got signals: %q", b)
	}
	if !alive(pid) {
		t.Error("the process died")
	}
	// The trap works: a real signal is recorded.
	_ = syscall.Kill(pid, syscall.SIGUSR1)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if b, _ := os.ReadFile(marker); strings.Contains(string(b), "USR1") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the trap recorded no USR1 within 5s: the check above proves nothing")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Release lets the process run, unsignalled, and ends the watcher.
func TestAdoptRelease(t *testing.T) {
	t.Parallel()
	marker := filepath.Join(t.TempDir(), "signals")
	pid := orphan(t, signalTrap(marker))
	a, err := Adopt(pid, mustStartTime(t, pid))
	if err != nil {
		t.Fatal(err)
	}
	a.Release()
	a.Release()
	if err := a.Signal(syscall.SIGTERM); err == nil {
		t.Error("Signal after Release succeeded")
	}
	time.Sleep(200 * time.Millisecond)
	if !alive(pid) {
		t.Error("the process died on Release")
	}
	if b, err := os.ReadFile(marker); err == nil {
		t.Errorf("the process got signals: %q", b)
	}
}
