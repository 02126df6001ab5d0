//go:build unix

package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// slowPlugin is a manifest entry for an echo plugin that never answers its
// handshake: starting for its start timeout of 2s, then stopped.
func slowPlugin(t *testing.T, name string) string {
	return "  - name: " + name + "\n    path: " + echo(t) + "\n    env: {ECHO_MODE: hang}\n" +
		"    start_timeout: 2s\n    restart: never\n"
}

// TestRunStartupProgressOnTTY: on a terminal, a start-up that takes over a
// second shows one line, rewritten in place, saying what tether run waits
// for; the line is erased once nothing is starting.
func TestRunStartupProgressOnTTY(t *testing.T) {
	dir := t.TempDir()
	manifest := filepath.Join(dir, "plugins.yaml")
	doc := "data_dir: state\nplugins:\n" + echoPlugin(t, "ok", "") + slowPlugin(t, "slow")
	if err := os.WriteFile(manifest, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	ptm, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptm.Close()
	if err := pty.Setsize(ptm, &pty.Winsize{Rows: 40, Cols: 200}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var screen bytes.Buffer
	read := make(chan struct{})
	go func() {
		defer close(read)
		buf := make([]byte, 4096)
		for {
			n, err := ptm.Read(buf)
			mu.Lock()
			screen.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	mark, tmp := newMark(t), t.TempDir()
	cmd := exec.Command(cli(t), "run", manifest)
	cmd.Env = cliEnv(mark, tmp)
	cmd.Stderr = tty
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("tether run after SIGTERM: %v", err)
			}
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("tether run did not exit within 15 s of SIGTERM")
		}
		assertNoneLeft(t, mark, tmp)
	}()
	const waiting = "\r\x1b[Ktether run: 1 of 2 plugins ready; waiting for slow (starting "
	text := func() string {
		mu.Lock()
		defer mu.Unlock()
		return screen.String()
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		s := text()
		shown := strings.LastIndex(s, waiting)
		// Shown, then erased once slow stopped: the last erase is after the
		// last progress text, and nothing is drawn after it.
		if erased := strings.LastIndex(s, "\r\x1b[K"); shown >= 0 && erased > shown && strings.Contains(s, `"instance":"slow","event":"stopped"`) &&
			!strings.Contains(s[erased:], "tether run:") {
			if !strings.Contains(s[:shown], `"msg":"tether run: serving"`) {
				t.Errorf("the progress line came before the daemon's first log record:\n%q", s)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no progress line shown then erased within 15 s; the terminal got:\n%q", s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRunNoProgressWithoutTTY: when stderr is not a terminal, tether run
// writes its log records and no progress line, however long the start-up.
func TestRunNoProgressWithoutTTY(t *testing.T) {
	d := startDaemon(t, echoPlugin(t, "ok", "")+slowPlugin(t, "slow"))
	d.waitStatus("slow stopped", func(st statusJSON) bool { return st.plugin(t, "slow").State == "stopped" })
	if s := d.stderr.String(); strings.Contains(s, "\x1b") || strings.Contains(s, "waiting for") {
		t.Errorf("tether run with stderr not a terminal wrote a progress line:\n%q", s)
	}
}

// TestRestartTimeout: restart of a plugin that is not ready within
// --timeout exits 1 at the timeout, saying so with its state.
func TestRestartTimeout(t *testing.T) {
	d := startDaemon(t, slowPlugin(t, "slow"))
	d.waitStatus("slow stopped", func(st statusJSON) bool { return st.plugin(t, "slow").State == "stopped" })
	r := run(t, "", nil, "restart", "slow", "--timeout", "1s", "--socket", d.sock)
	const want = "tether: slow not ready within 1s: state starting"
	if r.code != 1 || !strings.HasPrefix(r.stderr, want) || r.elapsed > 5*time.Second {
		t.Errorf("restart slow --timeout 1s: exit %d after %v, stderr %q; want 1 after 1s, %q", r.code, r.elapsed, r.stderr, want)
	}
}
