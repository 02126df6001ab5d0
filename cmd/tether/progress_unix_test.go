//go:build unix

package main

import (
	"bytes"
	"context"
	"io"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
)

// TestProgressOnTerminal: a load that waits for a network target of
// several addresses, all refusing, shows on a terminal one line rewritten
// in place with the cause, the attempt and the time, and erases it before
// the error; on anything but a terminal it prints nothing of it.
func TestProgressOnTerminal(t *testing.T) {
	target := "tcp://" + boundNotListening(t) + "," + boundNotListening(t)
	args := []string{"inspect", target, "--insecure", "--timeout", "2500ms"}

	stderr, code := runOnTerminal(t, args...)
	if code != 1 {
		t.Errorf("exit status %d, want 1; stderr:\n%q", code, stderr)
	}
	line := regexp.MustCompile(`\r\x1b\[Kwaiting for ` + regexp.QuoteMeta(target) +
		`: dial tcp 127\.0\.0\.1:\d+: connect: connection refused \(attempt \d+, [12]\.\ds\)`)
	if !line.MatchString(stderr) {
		t.Errorf("no progress line on the terminal:\n%q", stderr)
	}
	if i := strings.LastIndex(stderr, "waiting for"); i < 0 || !strings.Contains(stderr[i:], "\r\x1b[Ktether: plugin "+target+": start timeout") {
		t.Errorf("the progress line was not erased before the error:\n%q", stderr)
	}

	r := run(t, "", nil, args...)
	if r.code != 1 || strings.Contains(r.stderr, "waiting for") || strings.Contains(r.stderr, "\x1b") {
		t.Errorf("not a terminal: status %d, stderr %q; want no progress line", r.code, r.stderr)
	}
}

// runOnTerminal runs the CLI with its stderr on a pseudo-terminal, within
// 30 s, and returns what it wrote there and its exit status.
func runOnTerminal(t *testing.T, args ...string) (string, int) {
	t.Helper()
	bin := cli(t)
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 24, Cols: 250}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	mark, tmp := newMark(t), t.TempDir()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = cliEnv(mark, tmp)
	cmd.Stderr = tty
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	read := make(chan []byte, 1)
	go func() {
		var buf bytes.Buffer
		_, _ = io.Copy(&buf, ptmx) // ends with EIO once the CLI closed its side
		read <- buf.Bytes()
	}()
	err = cmd.Wait()
	code := cmd.ProcessState.ExitCode()
	if ctx.Err() != nil {
		t.Fatalf("tether %v did not finish within 30 s: %v", args, err)
	}
	select {
	case out := <-read:
		assertNoneLeft(t, mark, tmp)
		return string(out), code
	case <-time.After(10 * time.Second):
		t.Fatal("the terminal was not closed within 10 s of the CLI's exit")
	}
	return "", 0
}
