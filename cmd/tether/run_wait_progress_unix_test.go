//go:build unix

package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tetherplug/tether/internal/pb/echov1"
)

// erase is what a status line writes to erase itself.
const erase = "\r\x1b[K"

// slowStarter is a plugin that takes 2 s to start: a script that sleeps,
// then runs the echo plugin.
func slowStarter(t *testing.T) string {
	t.Helper()
	script := filepath.Join(t.TempDir(), "slow.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nsleep 2\nexec "+echo(t)+" \"$@\"\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	return script
}

// TestRestartProgressOnTTY: tether restart of a plugin that takes 2 s to
// start shows, on a terminal, one line rewritten in place while it waits,
// erased at the end; when stderr is not a terminal it writes nothing there.
func TestRestartProgressOnTTY(t *testing.T) {
	d := startDaemon(t, "  - name: slow\n    path: "+slowStarter(t)+"\n")
	d.waitStatus("slow running", func(st statusJSON) bool { return st.plugin(t, "slow").State == "running" })
	stderr, code := runOnTerminal(t, "restart", "slow", "--socket", d.sock)
	line := regexp.MustCompile(`\r\x1b\[Kwaiting for slow to be ready \(1\.\ds, at most 30s\)`)
	if code != 0 || !line.MatchString(stderr) || !strings.HasSuffix(stderr, erase) {
		t.Errorf("restart slow on a terminal: exit %d, stderr %q; want 0, a progress line, erased at the end", code, stderr)
	}
	r := run(t, "", nil, "restart", "slow", "--socket", d.sock)
	if r.code != 0 || r.stderr != "" || !strings.HasPrefix(r.stdout, "slow: running, pid ") || r.elapsed < 2*time.Second {
		t.Errorf("restart slow, not a terminal: exit %d after %v, stdout %q, stderr %q; want 0 after 2s, no progress line",
			r.code, r.elapsed, r.stdout, r.stderr)
	}
}

// TestStopProgressOnTTY: tether stop of a daemon whose plugin takes over a
// second to stop (a call is stuck in it) shows, on a terminal, one line
// rewritten in place while it waits, erased at the end; when stderr is not
// a terminal it writes nothing there.
func TestStopProgressOnTTY(t *testing.T) {
	for _, tty := range []bool{true, false} {
		d := startDaemon(t, echoPlugin(t, "stuck", "    env: {ECHO_MODE: stuck}\n"))
		d.waitStatus("stuck running", func(st statusJSON) bool { return st.plugin(t, "stuck").State == "running" })
		e := echoOverRun(t, d, "stuck")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		called := make(chan error, 1)
		go func() {
			_, err := e.Unary(ctx, &echov1.Message{Text: "hi"})
			called <- err
		}()
		logFile := filepath.Join(filepath.Dir(d.sock), "logs", "stuck.stderr.log")
		waitFor(t, func() bool {
			b, _ := os.ReadFile(logFile)
			return strings.Contains(string(b), "stuck in handler")
		})
		d.stopped = true
		var stderr string
		var code int
		var elapsed time.Duration
		if tty {
			start := time.Now()
			stderr, code = runOnTerminal(t, "stop", "--socket", d.sock)
			elapsed = time.Since(start)
		} else {
			r := run(t, "", nil, "stop", "--socket", d.sock)
			stderr, code, elapsed = r.stderr, r.code, r.elapsed
		}
		line := regexp.MustCompile(`\r\x1b\[Kwaiting for tether run \(pid \d+\) to stop its plugins and exit \(1\.\ds, at most 1m0s\)`)
		switch {
		case code != 0 || elapsed < 1200*time.Millisecond:
			t.Errorf("stop (terminal %v): exit %d after %v, stderr %q; want 0 after over a second", tty, code, elapsed, stderr)
		case tty && (!line.MatchString(stderr) || !strings.HasSuffix(stderr, erase)):
			t.Errorf("stop on a terminal: stderr %q; want a progress line, erased at the end", stderr)
		case !tty && stderr != "":
			t.Errorf("stop, not a terminal: stderr %q; want nothing", stderr)
		}
		select {
		case <-d.done:
		case <-time.After(5 * time.Second):
			t.Fatal("the daemon has not exited 5 s after tether stop returned")
		}
		select {
		case <-called:
		case <-time.After(15 * time.Second):
			t.Fatal("the stuck call did not end within 15 s of the daemon's exit")
		}
		assertNoneLeft(t, d.mark, d.tmp)
	}
}
