//go:build linux

package e2e_test

import (
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/tethertest"
)

// TestCrashDuringCall: a plugin that panics in a call fails that call with
// ErrPluginExited carrying the panic, and the panic reaches the host's
// logger at error level.
func TestCrashDuringCall(t *testing.T) {
	t.Parallel()
	log, rec := newRecorder()
	c := launchEcho(t, "panic", tether.WithLogger(log))
	dir := envOf(t, c.Pid(), tether.EnvUnixSocketDir)
	echo, _ := tether.Dispense(c, "echo", echov1.NewEchoClient)
	tethertest.RequireTransport(t, c.Name(), c.Transport()) // the typed error holds over either

	_, err := echo.Unary(t.Context(), &echov1.Message{Text: "boom"})
	if err == nil {
		t.Fatal("Unary succeeded on a plugin that panics")
	}
	t.Logf("call error: %v", err)
	if !errors.Is(err, tether.ErrPluginExited) {
		t.Errorf("errors.Is(err, ErrPluginExited) is false")
	}
	var pe *tether.PluginError
	if !errors.As(err, &pe) {
		t.Fatalf("error %T is not a *PluginError", err)
	}
	if !strings.Contains(err.Error(), "panic: echoplugin: asked to panic") {
		t.Errorf("the error does not quote the panic")
	}
	if pe.ExitCode != 2 {
		t.Errorf("ExitCode = %d, want 2 (a Go panic's exit status)", pe.ExitCode)
	}
	if code := status.Code(err); code != codes.Unavailable {
		t.Errorf("status.Code = %v, want Unavailable", code)
	}
	select {
	case <-c.Exited():
	case <-time.After(5 * time.Second):
		t.Fatal("Exited() not closed 5 s after the plugin crashed")
	}
	if !errors.Is(c.ExitError(), tether.ErrPluginExited) {
		t.Errorf("ExitError() = %v", c.ExitError())
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("socket directory of the crashed plugin still exists: %v", err)
	}
	r, ok := rec.find("panic: echoplugin: asked to panic")
	if !ok {
		t.Fatal("the panic line never reached the host's logger")
	}
	if r.Level != slog.LevelError || r.Attrs["plugin"] != "echoplugin" {
		t.Errorf("panic logged as %+v, want level ERROR with plugin=echoplugin", r)
	}
	if r, ok := rec.find("goroutine "); !ok || r.Level != slog.LevelError {
		t.Errorf("the panic's stack trace was not logged at error: %+v, %v", r, ok)
	}
}
