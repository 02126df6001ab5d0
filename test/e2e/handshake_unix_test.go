//go:build unix

package e2e_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/tetherplug/tether"
)

// TestPluginHandshakeLine runs a plugin the way a go-plugin host does and
// reads its handshake line: the six field form, on a socket in the
// directory the host named. SIGTERM then stops it cleanly and removes the
// socket.
func TestPluginHandshakeLine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cmd := exec.Command(echoPath(t))
	cmd.Env = []string{
		tether.DefaultMagicCookieKey + "=" + tether.DefaultMagicCookieValue,
		tether.EnvProtocolVersions + "=1,2",
		tether.EnvUnixSocketDir + "=" + dir,
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, fmt.Sprintf("plugin-%d.sock", cmd.Process.Pid))
	if want := "1|1|unix|" + sock + "|grpc|\n"; line != want {
		t.Errorf("handshake line %q, want %q", line, want)
	}
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Type() != os.ModeSocket {
		t.Errorf("socket %s: %v, %v", sock, fi, err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("after SIGTERM: %v, want a clean exit", err)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("socket left after the plugin stopped: %v", err)
	}
}
