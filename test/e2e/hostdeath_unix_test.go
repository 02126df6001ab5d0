//go:build unix

package e2e_test

import (
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
)

// TestPluginInStuckHandlerObeysShutdownTimeout: on SIGTERM, a plugin whose
// handler ignores its context exits about one shutdown timeout later.
func TestPluginInStuckHandlerObeysShutdownTimeout(t *testing.T) {
	t.Parallel()
	log, rec := newRecorder()
	c := launchEcho(t, "stuck", tether.WithKillTimeout(5*time.Second), tether.WithLogger(log))
	echo, _ := tether.Dispense(c, "echo", echov1.NewEchoClient)
	called := make(chan error, 1)
	go func() {
		_, err := echo.Unary(t.Context(), &echov1.Message{Text: "x"})
		called <- err
	}()
	eventually(t, 5*time.Second, "the plugin's handler did not start", func() bool {
		_, ok := rec.find("stuck in handler")
		return ok
	})
	if err := syscall.Kill(c.Pid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	select {
	case <-c.Exited():
	case <-time.After(5 * time.Second):
		t.Fatal("plugin still running 5 s after SIGTERM, with a 2 s shutdown timeout")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("plugin took %v to exit after SIGTERM; want about 2 s (its shutdown timeout)", d)
	}
	var pe *tether.PluginError
	if !errors.As(c.ExitError(), &pe) || pe.ExitCode != 0 {
		t.Errorf("ExitError() = %v, want exit status 0", c.ExitError())
	}
	select {
	case err := <-called:
		if err == nil {
			t.Error("the stuck call succeeded")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stuck call did not fail within 5 s of the plugin's exit")
	}
}
