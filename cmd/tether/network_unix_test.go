//go:build unix

package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
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

// TestNetworkRefusedAtOnce: a target of one address where nothing listens,
// or a unix target without a socket, fails at once with its cause (exit
// status 1), not after --timeout; the doc quotes both messages.
func TestNetworkRefusedAtOnce(t *testing.T) {
	addr := boundNotListening(t)
	sock := filepath.Join(t.TempDir(), "none.sock")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"inspect", "tcp://" + addr, "--insecure"},
			"tether: plugin tcp://" + addr + ": no instance available: nothing listens at " + addr + ": dial tcp " + addr + ": connect: connection refused\n"},
		{[]string{"call", "unix://" + sock, "Unary", "{}"},
			"tether: plugin unix://" + sock + ": no instance available: there is no socket at " + sock + ": dial unix " + sock + ": connect: no such file or directory\n"},
	} {
		r := run(t, "", nil, c.args...)
		if r.code != 1 || r.elapsed > 3*time.Second || !strings.HasSuffix(r.stderr, c.want) {
			t.Errorf("tether %v: status %d after %v, stderr %q; want 1 at once, ending %q", c.args, r.code, r.elapsed, r.stderr, c.want)
		}
	}
}

// boundNotListening returns a loopback address where nothing listens and
// nothing can until the test ends: a socket is bound there and never
// listens, so connecting is refused.
func boundNotListening(t *testing.T) string {
	t.Helper()
	syscall.ForkLock.RLock() // no child inherits it before close-on-exec is set
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
}
