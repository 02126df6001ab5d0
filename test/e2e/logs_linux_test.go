//go:build linux

package e2e_test

import (
	"bufio"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/plugintest"
	"github.com/tetherplug/tether/tethertest"
)

// TestPluginDiesWithHost: when its host is killed with SIGKILL, a plugin
// exits within 2 s and its socket directory goes with it.
func TestPluginDiesWithHost(t *testing.T) {
	t.Parallel()
	host := exec.Command(tethertest.Build(t, plugintest.HostProg), echoPath(t))
	host.Stderr = os.Stderr
	out, err := host.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	defer host.Wait()
	defer host.Process.Kill()

	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the plugin's pid from the host: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || pid <= 0 {
		t.Fatalf("host printed %q, want the plugin's pid", line)
	}
	dir := envOf(t, pid, tether.EnvUnixSocketDir)
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("socket directory: %v", err)
	}

	if err := host.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	eventually(t, 2*time.Second, "plugin still running 2 s after its host was killed", func() bool { return exited(pid) })
	t.Logf("plugin exited %v after its host was killed", time.Since(killed).Round(time.Millisecond))
	eventually(t, time.Second, "socket directory "+dir+" left behind by the dead plugin", func() bool {
		_, err := os.Stat(dir)
		return os.IsNotExist(err)
	})
}
