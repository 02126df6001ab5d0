//go:build unix

package proc

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// A program whose OS setup fails once it runs (on Windows: no Job Object,
// without which it would outlive its host) is no launch: Start's error
// names the cause, and by then the program and what it started are killed
// and reaped and Spec.Dir is removed.
func TestStartFailsWhenSetupFails(t *testing.T) {
	cause := errors.New("no job for you")
	dir := t.TempDir()
	ready := filepath.Join(dir, "ready")
	pid := 0
	started = func(_ *sysProc, p int, _ bool) error {
		pid = p
		t.Cleanup(func() { // whatever the outcome, nothing of the group outlives the test
			for _, left := range groupMembers(p) {
				_ = syscall.Kill(left, syscall.SIGKILL)
			}
		})
		// The setup fails once the program has started a child of its own.
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if _, err := os.Stat(ready); err == nil {
				return cause
			}
			if time.Now().After(deadline) {
				t.Error("the program did not start its child within 5s")
				return cause
			}
		}
	}
	t.Cleanup(func() { started = (*sysProc).started })
	path := script(t, dir, "p", "sleep 1000 &\ntouch "+ready+"\nwhile :; do sleep 0.05; done\n")
	work := filepath.Join(dir, "work")
	if err := os.Mkdir(work, 0o700); err != nil {
		t.Fatal(err)
	}
	p, err := Start(Spec{Path: path, Dir: work, DieWithHost: true, KillTimeout: time.Second})
	if p != nil || !errors.Is(err, cause) {
		t.Fatalf("Start = %v, %v; want no process and an error wrapping %v", p, err, cause)
	}
	if pid == 0 {
		t.Fatal("started was not called")
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("pid %d after Start failed: kill(0) = %v, want ESRCH (killed and reaped)", pid, err)
	}
	if left := waitGroupGone(pid, 3*time.Second); len(left) > 0 {
		t.Errorf("processes left in group %d: %v", pid, left)
	}
	if _, err := os.Stat(work); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Spec.Dir after the failed Start: %v, want it removed", err)
	}
}
