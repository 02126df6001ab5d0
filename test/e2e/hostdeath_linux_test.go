//go:build linux

package e2e_test

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/plugintest"
	"github.com/tetherplug/tether/tethertest"
)

// wrapper writes a shell script that runs the echo plugin without exec (the
// shell stays the plugin's parent) and returns its path.
func wrapper(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "wrapped-echo")
	script := fmt.Sprintf("#!/bin/sh\n%q \"$@\"\nstatus=$?\nexit $status\n", echoPath(t))
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// startHost runs hostprog with args and ECHO_MODE=mode and TETHER_TEST_MARK
// for its plugin, and returns the first line it prints (the plugin's pid),
// the host and its output.
func startHost(t *testing.T, mode string, args ...string) (*exec.Cmd, *bufio.Scanner, string) {
	t.Helper()
	mark := fmt.Sprintf("%d-host-%d", os.Getpid(), markSeq.Add(1))
	host := exec.Command(tethertest.Build(t, plugintest.HostProg), args...)
	host.Env = append(os.Environ(), "ECHO_MODE="+mode, "TETHER_TEST_MARK="+mark)
	host.Stderr = os.Stderr
	out, err := host.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = host.Process.Kill(); _ = host.Wait() })
	lines := bufio.NewScanner(out)
	if !lines.Scan() {
		t.Fatal("the host printed no plugin pid")
	}
	if _, err := strconv.Atoi(lines.Text()); err != nil {
		t.Fatalf("host printed %q, want the plugin's pid", lines.Text())
	}
	return host, lines, mark
}

// killHostAndExpectNoPlugin kills the host with SIGKILL and fails unless
// every process of its plugin is gone within 2 s.
func killHostAndExpectNoPlugin(t *testing.T, host *exec.Cmd, mark string) {
	t.Helper()
	if len(processesMarked(mark)) < 2 { // the host and at least one plugin process
		t.Fatalf("processes marked %s before the kill: %v", mark, processesMarked(mark))
	}
	if err := host.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	eventually(t, 2*time.Second, "plugin processes still running 2 s after their host was killed", func() bool {
		return len(processesMarked(mark)) == 0
	})
	t.Logf("plugin gone %v after its host was killed", time.Since(killed).Round(time.Millisecond))
}

// TestPluginThroughWrapperScriptStaysUp: a plugin run by a shell script that
// does not exec it (its parent is the shell, not the host) keeps serving.
func TestPluginThroughWrapperScriptStaysUp(t *testing.T) {
	t.Parallel()
	mark, opts := echoOpts("")
	c, err := tether.Launch(t.Context(), wrapper(t), opts...)
	if err != nil {
		t.Fatal(err)
	}
	pid := c.Pid()
	time.Sleep(time.Second) // the plugin must still be there after this long
	echo, _ := tether.Dispense(c, "echo", echov1.NewEchoClient)
	if _, err := echo.Unary(t.Context(), &echov1.Message{Text: "still there?"}); err != nil {
		t.Errorf("call 1 s after start through a wrapper: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if !reaped(pid) {
		t.Errorf("wrapper process %d still exists after Close", pid)
	}
	eventually(t, 2*time.Second, "processes of the wrapped plugin left after Close", func() bool {
		return len(processesMarked(mark)) == 0
	})
}

// TestPluginThroughWrapperScriptDiesWithHost: the wrapped plugin (not a
// child of the host) still exits within 2 s of its host's SIGKILL.
func TestPluginThroughWrapperScriptDiesWithHost(t *testing.T) {
	t.Parallel()
	host, _, mark := startHost(t, "", wrapper(t))
	killHostAndExpectNoPlugin(t, host, mark)
}

// TestPluginInStuckHandlerDiesWithHost: a host killed with SIGKILL while its
// plugin is inside a 60 s handler that ignores its context leaves no plugin
// process after 2 s.
func TestPluginInStuckHandlerDiesWithHost(t *testing.T) {
	t.Parallel()
	host, lines, mark := startHost(t, "stuck", "-call-until", "stuck in handler", echoPath(t))
	if !lines.Scan() || lines.Text() != "stuck in handler" {
		t.Fatalf("host printed %q, want the plugin stuck in its handler", lines.Text())
	}
	killHostAndExpectNoPlugin(t, host, mark)
}

// TestSocketPathTooLong: a plugin told to put its socket in a directory
// whose path leaves no room in sun_path says so and exits 1.
func TestSocketPathTooLong(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), strings.Repeat("d", 120))
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(echoPath(t))
	cmd.Env = append(os.Environ(), tether.DefaultMagicCookieKey+"="+tether.DefaultMagicCookieValue,
		tether.EnvUnixSocketDir+"="+dir)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("plugin with a too long socket path: %v, want exit status 1", err)
	}
	if len(out) > 0 {
		t.Errorf("it printed %q on stdout, want no handshake", out)
	}
	want := fmt.Sprintf("is %d bytes, more than the 107 a Unix socket path can have; set a shorter TMPDIR", len(dir)+len("/plugin-.sock")+len(strconv.Itoa(cmd.Process.Pid)))
	if !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr %q does not say %q", stderr.String(), want)
	}
}
