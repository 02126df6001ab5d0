//go:build unix

package tether_test

import (
	"syscall"
	"testing"
	"time"

	"github.com/tetherplug/tether"
)

// TestRestartsSignalExitCode: a process ended by a signal reports 128+N,
// as a shell does.
func TestRestartsSignalExitCode(t *testing.T) {
	t.Parallel()
	c, err := tether.Launch(t.Context(), echoPath(t), tether.WithRestart(), tether.WithStartTimeout(20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pid := c.Pid()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the killed process was not replaced", func() bool {
		return c.Restarts().Count == 1
	})
	if r := c.Restarts(); r.LastExitCode != 128+int(syscall.SIGKILL) {
		t.Errorf("LastExitCode after SIGKILL = %d, want %d (%v)", r.LastExitCode, 128+int(syscall.SIGKILL), r.LastExit)
	}
}
