//go:build unix

package e2e_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
)

// TestReplacementWithOtherVersionsIsRefused: an instance whose versions do
// not fit what the host negotiated with the first one receives no calls,
// and the host is told which and why.
func TestReplacementWithOtherVersionsIsRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	script := filepath.Join(dir, "downgrade")
	body := "#!/bin/sh\nif [ -e '" + dir + "/started' ]; then export ECHO_MODE=v1only; fi\ntouch '" + dir + "/started'\nexec '" + echoPath(t) + "'\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	_, opts := echoOpts("", tether.WithRestart(), tether.WithInterface("echo", 1, 2))
	c, err := tether.Launch(t.Context(), script, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if v, _ := c.Version("echo"); v != 2 {
		t.Fatalf("negotiated echo v%d, want v2", v)
	}
	echo, _ := tether.Dispense(c, "echo", echov1.NewEchoClient)
	first := c.Pid()
	killProcess(t, first)
	var refused error
	eventually(t, 10*time.Second, "the downgraded replacement was not refused", func() bool {
		for _, in := range c.Instances() {
			if in.Refused != nil {
				refused = in.Refused
				return true
			}
		}
		return false
	})
	var ve *tether.VersionError
	if !errors.As(refused, &ve) || ve.Interface != "echo" {
		t.Fatalf("refused because %v, want a *VersionError for interface echo", refused)
	}
	_, err = echo.Unary(t.Context(), &echov1.Message{Text: "x"})
	if !errors.Is(err, tether.ErrUnavailable) || !strings.Contains(err.Error(), "interface echo") {
		t.Errorf("call while only a refused instance runs: %v, want ErrUnavailable naming interface echo", err)
	}
}

// TestEndlessFirstLine: a program whose first line is a megabyte without a
// newline is not a plugin, and the error says so at once rather than
// claiming it closed its stdout.
func TestEndlessFirstLine(t *testing.T) {
	t.Parallel()
	script := filepath.Join(t.TempDir(), "endless")
	body := "#!/bin/sh\nhead -c 1048576 /dev/zero | tr '\\0' x\nsleep 30\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := tether.Launch(t.Context(), script, tether.WithKillTimeout(200*time.Millisecond))
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Errorf("Launch took %v", took)
	}
	if !errors.Is(err, tether.ErrNotPlugin) || !strings.Contains(err.Error(), "longer than 64 KiB") {
		t.Errorf("Launch = %v, want ErrNotPlugin saying the first line is too long", err)
	}
	if strings.Contains(err.Error(), "closed stdout") || strings.Contains(err.Error(), "closing stdout") {
		t.Errorf("error %q claims stdout was closed", err)
	}
}
