//go:build unix

package e2e_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/tethertest"
)

// slowRestartScript wraps the echo plugin so that every start after the
// first takes a second: the window in which no instance can take calls.
func slowRestartScript(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	script := filepath.Join(dir, "slow-restart")
	body := "#!/bin/sh\nif [ -e '" + dir + "/started' ]; then sleep 1; fi\ntouch '" + dir + "/started'\nexec '" + echoPath(t) + "'\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return script
}

// TestCallsDuringRestart: while the runtime brings up a replacement, calls
// fail fast with ErrUnavailable (the status stays Unavailable), or, with
// WithWaitForReady, wait for the new instance and succeed.
func TestCallsDuringRestart(t *testing.T) {
	t.Parallel()
	for _, wait := range []bool{false, true} {
		name := map[bool]string{false: "fail fast", true: "wait for ready"}[wait]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, opts := echoOpts("", tether.WithRestart())
			if wait {
				opts = append(opts, tether.WithWaitForReady())
			}
			c, err := tether.Launch(t.Context(), slowRestartScript(t), opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			echo, _ := tether.Dispense(c, "echo", echov1.NewEchoClient)
			tethertest.RequireTransport(t, c.Name(), c.Transport())
			killProcess(t, c.Pid())
			eventually(t, 5*time.Second, "the killed instance stayed admitted", func() bool { return admittedAddress(c) == "" })
			start := time.Now()
			_, err = echo.Unary(t.Context(), &echov1.Message{Text: "x"})
			took := time.Since(start)
			if wait {
				if err != nil {
					t.Fatalf("call with WithWaitForReady during the restart: %v", err)
				}
				return
			}
			if !errors.Is(err, tether.ErrUnavailable) {
				t.Fatalf("call during the restart: %v, want ErrUnavailable", err)
			}
			if took > 500*time.Millisecond {
				t.Errorf("failing call took %v, want it to fail fast", took)
			}
			eventually(t, 10*time.Second, "no new instance after the slow restart", func() bool { return admittedAddress(c) != "" })
			if _, err := echo.Unary(t.Context(), &echov1.Message{Text: "y"}); err != nil {
				t.Errorf("call after the restart: %v", err)
			}
		})
	}
}
