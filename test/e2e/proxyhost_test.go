package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/plugintest"
	"github.com/tetherplug/tether/tethertest"
)

// TestTwoHostProcessesThroughOneProxyConnection is issue 7's acceptance
// test for callbacks routed per host: one callback plugin process, a proxy
// holding ONE connection to it, and two host processes (sessionhost, which
// loads the plugin with tether.Open through a runtime it registers itself)
// that call it through the proxy at the same time, 1,000 calls each, every
// one answered by a callback to its own host. No callback may reach the
// other host, no call may fail, and each host must receive exactly its
// 1,000 callbacks.
func TestTwoHostProcessesThroughOneProxyConnection(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // first registered, so it runs last
	addr := launchForProxy(t)
	dir, err := os.MkdirTemp("", "tether-px-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	p := listenProxy(t, filepath.Join(dir, "proxy.sock"), "unix://"+addr)

	bin := tethertest.Build(t, plugintest.SessionHost)
	hosts := []*hostProc{
		startSessionHost(t, bin, p.Target(), "A"),
		startSessionHost(t, bin, p.Target(), "B"),
	}
	// Both hosts have loaded the plugin and had one callback: only now do
	// their 1,000 calls start, together.
	for _, h := range hosts {
		if line := h.line(t, 30*time.Second); line != "ready" {
			t.Fatalf("host %s said %q before it was ready; %s", h.tag, line, h.exit(t))
		}
	}
	for _, h := range hosts {
		if _, err := io.WriteString(h.stdin, "go\n"); err != nil {
			t.Fatalf("host %s: %v", h.tag, err)
		}
	}
	for _, h := range hosts {
		line := h.line(t, 60*time.Second)
		tethertest.Recv(t, h.done, 10*time.Second)
		if want := "calls=1000 wrong=0 failed=0 callbacks=1000"; line != want || h.err != nil {
			t.Errorf("host %s: %q, want %q; %s", h.tag, line, want, h.exit(t))
		}
	}
	if n := p.UpstreamConns(); n != 1 {
		t.Errorf("the proxy opened %d connections to the plugin, want ONE shared by both hosts", n)
	}
}

// launchForProxy launches the callback plugin, plaintext on a Unix socket,
// and returns the socket's path. The plugin is killed at cleanup, and the
// test fails if its process is left behind.
func launchForProxy(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := tether.Launch(ctx, tethertest.Build(t, callbackPlugin), tether.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatalf("Launch: %v", err)
	}
	pid := c.Pid()
	t.Cleanup(func() {
		kctx, kcancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer kcancel()
		if err := c.Kill(kctx); err != nil {
			t.Errorf("Kill: %v", err)
		}
		if !reaped(pid) {
			t.Errorf("the plugin process %d is still there after Kill", pid)
		}
	})
	h := c.Handshake()
	if h.Network != "unix" || h.ServerCert != nil {
		t.Fatalf("the plugin listens on %s %s (certificate: %t), want a plaintext Unix socket", h.Network, h.Address, h.ServerCert != nil)
	}
	return h.Address
}

// hostProc is one running sessionhost.
type hostProc struct {
	tag    string
	stdin  io.WriteCloser
	lines  chan string   // its stdout, line by line; closed at EOF
	done   chan struct{} // closed once it is reaped
	err    error         // how it exited, once done
	stderr *bytes.Buffer // read only once done
}

// startSessionHost starts sessionhost for target with -wait. At cleanup, a host
// still running is killed, and the test fails if it is not reaped in time.
func startSessionHost(t *testing.T, bin, target, tag string) *hostProc {
	t.Helper()
	cmd := exec.Command(bin, "-target", target, "-tag", tag, "-n", "1000", "-parallel", "4", "-wait")
	h := &hostProc{tag: tag, lines: make(chan string, 4), done: make(chan struct{}), stderr: &bytes.Buffer{}}
	cmd.Stderr = h.stderr
	var err error
	if h.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			h.lines <- sc.Text()
		}
		close(h.lines)
		h.err = cmd.Wait()
		close(h.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // an error: it has exited already
		select {
		case <-h.done:
		case <-time.After(10 * time.Second):
			t.Errorf("host %s (pid %d) was not reaped within 10 s of SIGKILL", tag, cmd.Process.Pid)
		}
	})
	return h
}

// exit waits for the host to be reaped and says how it exited and what
// it printed on stderr.
func (h *hostProc) exit(t *testing.T) string {
	t.Helper()
	tethertest.Recv(t, h.done, 10*time.Second)
	return fmt.Sprintf("exit: %v; stderr:\n%s", h.err, h.stderr.String())
}

// line returns the host's next line of stdout, or fails the test if none
// comes within d.
func (h *hostProc) line(t *testing.T, d time.Duration) string {
	t.Helper()
	select {
	case l, ok := <-h.lines:
		if !ok {
			return "(stdout closed)"
		}
		return strings.TrimSpace(l)
	case <-time.After(d):
		t.Fatalf("host %s printed nothing within %v", h.tag, d)
		return ""
	}
}
