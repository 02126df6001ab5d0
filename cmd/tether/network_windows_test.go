package main

import (
	"os/exec"
	"testing"
	"time"

	"github.com/tetherplug/tether/internal/plugintest"
)

// stopNetEcho kills the plugin (Windows has no SIGTERM to send it) and
// checks it is gone.
func stopNetEcho(t *testing.T, cmd *exec.Cmd, exited <-chan error) {
	if err := cmd.Process.Kill(); err != nil {
		t.Errorf("kill: %v", err)
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatal("the echo plugin did not exit within 10 s of its kill")
	}
	if !plugintest.Reaped(cmd.Process.Pid) {
		t.Errorf("the echo plugin (pid %d) is still there", cmd.Process.Pid)
	}
}
