//go:build linux

package main

import (
	"strings"
	"syscall"
	"testing"
)

// TestInspectInterrupt: Ctrl-C while a plugin hangs in its start-up stops
// it at once, leaving nothing behind.
func TestInspectInterrupt(t *testing.T) {
	mark, tmp := newMark(t), t.TempDir()
	cmd, _, _, wait := startCLI(t, mark, tmp, []string{"ECHO_MODE=hang"}, "inspect", echo(t))
	waitFor(t, func() bool { return len(marked(t, mark)) == 2 })
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code, stderr := wait(); code != 130 || !strings.Contains(stderr, "interrupted") {
		t.Errorf("exit status %d, stderr %q; want 130 and interrupted", code, stderr)
	}
	assertNoneLeft(t, mark, tmp)
}
