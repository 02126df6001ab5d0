package e2e_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
)

// TestKillHonoursContext: Kill with a context that ends before the plugin
// has stopped returns an error saying so, does not wait out its own
// timeouts, and still leaves no process behind.
func TestKillHonoursContext(t *testing.T) {
	t.Parallel()
	c := launchEcho(t, "stubborn", tether.WithKillTimeout(5*time.Second))
	pid := c.Pid()
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := c.Kill(ctx)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Kill with a 300ms context took %v", took)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Kill = %v, want an error wrapping context.DeadlineExceeded", err)
	}
	if !reaped(pid) {
		t.Errorf("process %d still exists after Kill", pid)
	}
}

// TestHostSideFailureIsErrHost: when the host cannot prepare a launch (here
// its temporary directory does not exist) the error says it is the host's
// failure, not that the program is not a plugin. (Not parallel: TMPDIR.)
func TestHostSideFailureIsErrHost(t *testing.T) {
	path := echoPath(t)
	t.Setenv("TMPDIR", filepath.Join(t.TempDir(), "missing"))
	_, err := tether.Launch(t.Context(), path)
	if !errors.Is(err, tether.ErrHost) || errors.Is(err, tether.ErrNotPlugin) {
		t.Fatalf("Launch with a missing TMPDIR: %v, want ErrHost and not ErrNotPlugin", err)
	}
	if !strings.Contains(err.Error(), "socket directory") {
		t.Errorf("error %q does not say what failed", err)
	}
}

// TestLongTempDir: a TMPDIR so long that a socket path in it cannot be
// bound still launches plugins. (Not parallel: TMPDIR.)
func TestLongTempDir(t *testing.T) {
	path := echoPath(t)
	long := filepath.Join(t.TempDir(), strings.Repeat("d", 100))
	if err := os.MkdirAll(long, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", long)
	c, err := tether.Launch(t.Context(), path)
	if err != nil {
		t.Fatalf("Launch with a %d-byte TMPDIR: %v", len(long), err)
	}
	defer c.Close()
	if err := c.Ping(t.Context()); err != nil {
		t.Error(err)
	}
}

// TestHandshakeThenExitIsOneKind: a plugin that prints its handshake and
// exits at once fails the load with ErrPluginExited alone, its exit status
// and what it printed, and one PluginError in the chain.
func TestHandshakeThenExitIsOneKind(t *testing.T) {
	t.Parallel()
	_, opts := echoOpts("quickexit")
	_, err := tether.Launch(t.Context(), echoPath(t), opts...)
	if !errors.Is(err, tether.ErrPluginExited) {
		t.Fatalf("Launch = %v, want ErrPluginExited", err)
	}
	for _, other := range []error{tether.ErrStartTimeout, tether.ErrNotPlugin, tether.ErrUnavailable} {
		if errors.Is(err, other) {
			t.Errorf("error %q also matches %v", err, other)
		}
	}
	if n := strings.Count(err.Error(), "plugin echoplugin:"); n != 1 {
		t.Errorf("error %q nests %d plugin errors, want 1", err, n)
	}
	for _, want := range []string{"exit status 4", "quitting right after the handshake"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

// TestWaitForReadyAfterTheEnd: once a plugin that is not restarted has
// exited, calls fail at once with its exit, even with WithWaitForReady.
func TestWaitForReadyAfterTheEnd(t *testing.T) {
	t.Parallel()
	c := launchEcho(t, "", tether.WithWaitForReady())
	echo, _ := tether.Dispense(c, "echo", echov1.NewEchoClient)
	killProcess(t, c.Pid())
	select {
	case <-c.Exited():
	case <-time.After(5 * time.Second):
		t.Fatal("Exited not closed 5s after SIGKILL")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	start := time.Now()
	_, err := echo.Unary(ctx, &echov1.Message{Text: "x"})
	if took := time.Since(start); took > time.Second {
		t.Errorf("call after the end took %v, want it to fail at once", took)
	}
	if !errors.Is(err, tether.ErrPluginExited) || !strings.Contains(err.Error(), "signal: killed") {
		t.Errorf("call after the end: %v, want ErrPluginExited saying it was killed", err)
	}
}

// TestLaunchIgnoresHostsNetworkEnvironment: a host whose own environment
// says to serve on the network (it is itself such a plugin) still launches
// its plugins through the handshake: it does not pass those variables on.
// (Not parallel: it sets the environment.)
func TestLaunchIgnoresHostsNetworkEnvironment(t *testing.T) {
	path := echoPath(t)
	t.Setenv(tether.EnvListen, "127.0.0.1:0")
	t.Setenv(tether.EnvInsecure, "1")
	c, err := tether.Launch(t.Context(), path, tether.WithStartTimeout(10*time.Second))
	if err != nil {
		t.Fatalf("Launch with %s in the host's environment: %v", tether.EnvListen, err)
	}
	defer c.Close()
	if c.Handshake().Network != "unix" {
		t.Errorf("the plugin answered on %q, want its launch socket", c.Handshake().Network)
	}
}
