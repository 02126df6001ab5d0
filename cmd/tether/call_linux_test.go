//go:build linux

package main

import (
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestLeakCheckSeesProcesses(t *testing.T) {
	mark := newMark(t)
	cmd := exec.Command("sleep", "30")
	cmd.Env = append(os.Environ(), markEnv+"="+mark)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	// Start returns once the child is forked; until it has exec'd, its
	// /proc environ is still the parent's, without the mark.
	pid := strconv.Itoa(cmd.Process.Pid)
	deadline := time.Now().Add(5 * time.Second)
	for pids := marked(t, mark); !slices.Contains(pids, pid); pids = marked(t, mark) {
		if time.Now().After(deadline) {
			t.Fatalf("marked() = %v, does not find pid %s within 5s", pids, pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCallInterrupt: a signal ends an endless stream, stops the plugin and
// exits with status 130.
func TestCallInterrupt(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			mark, tmp := newMark(t), t.TempDir()
			cmd, in, out, wait := startCLI(t, mark, tmp, nil, "call", echo(t), "tether.echo.v1.Echo/ServerStream", "-")
			_, _ = io.WriteString(in, `{"text":"tick","count":100000,"delay_ms":20}`)
			in.Close()
			for i := 0; i < 2; i++ {
				if !out.Scan() {
					t.Fatal("the stream ended early")
				}
			}
			pids := marked(t, mark)
			if len(pids) != 2 {
				t.Fatalf("%d marked processes (%v), want the CLI and its plugin", len(pids), pids)
			}
			start := time.Now()
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			for out.Scan() {
			}
			code, stderr := wait()
			if code != 130 || !strings.Contains(stderr, "interrupted") {
				t.Errorf("exit status %d, stderr %q; want 130 and interrupted", code, stderr)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %v to stop", d)
			}
			assertNoneLeft(t, mark, tmp)
		})
	}
}
