//go:build unix

package main

import (
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/tetherplug/tether/internal/plugintest"
)

// stopNetEcho sends the plugin SIGTERM and checks it is gone.
func stopNetEcho(t *testing.T, cmd *exec.Cmd, exited <-chan error) {
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Errorf("SIGTERM: %v", err)
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("the echo plugin did not exit within 10 s of SIGTERM")
	}
	if !plugintest.Reaped(cmd.Process.Pid) {
		t.Errorf("the echo plugin (pid %d) is still there", cmd.Process.Pid)
	}
}
