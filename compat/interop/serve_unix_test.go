//go:build unix

package interop_test

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tetherplug/tether"
	greeterv1 "github.com/tetherplug/tether/examples/greeter/greeterpb/v1"
	"github.com/tetherplug/tether/internal/plugintest/pki"
	"github.com/tetherplug/tether/network"
)

// TestServeGoPluginToNetworkHost is issue 8's acceptance test for go-plugin
// plugins on the network: the go-plugin greeter, unmodified, served with
// tether serve and mutual TLS, is loaded by a network host with
// tether.Open("tcp://...") and answers its call; the host sees a go-plugin
// plugin (no Describe of its own) at the handshake's protocol version. What
// the plugin prints goes to serve's log. SIGTERM then stops serve, exit 0,
// and the plugin with it.
func TestServeGoPluginToNetworkHost(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	dir := t.TempDir()
	ca := pki.NewCA(t, "serve test CA")
	srv, host := ca.Server(t), ca.Client(t, "host-1")
	caFile := pki.WriteFile(t, dir, "ca.crt", ca.PEM)
	cmd := exec.Command(build(t, tetherCLI), "serve", build(t, goPluginGreeter), "--listen", "127.0.0.1:0",
		"--tls-cert", pki.WriteFile(t, dir, "srv.crt", srv.CertPEM), "--tls-key", pki.WriteFile(t, dir, "srv.key", srv.KeyPEM),
		"--client-ca", caFile)
	addr, pid, logged, exited := startLogged(t, cmd)

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := tether.Open(ctx, "tcp://"+addr, tether.WithInterface("greeter", 1),
		network.WithTLSFiles(pki.WriteFile(t, dir, "host.crt", host.CertPEM), pki.WriteFile(t, dir, "host.key", host.KeyPEM), caFile),
		tether.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatalf("Open through serve: %v", err)
	}
	if c.Described() || c.ProtocolVersion() != 1 {
		t.Errorf("Described %t, protocol %d: want a go-plugin plugin of protocol 1", c.Described(), c.ProtocolVersion())
	}
	resp, err := greeterv1.NewGreeterClient(c.Conn()).Greet(ctx, &greeterv1.GreetRequest{Name: "Ada"})
	if err != nil || resp.GetMessage() != "Howdy, Ada!" {
		t.Errorf("Greet through serve: %v, %v", resp, err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	waitLogged(t, logged, "gpgreeter stdout: greeting Ada")
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("serve after SIGTERM: %v, want exit 0", err)
		}
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("serve did not exit within 10 s of SIGTERM")
	}
	if err := syscall.Kill(pid, 0); err != syscall.ESRCH {
		t.Errorf("the plugin (pid %d) outlived serve: %v", pid, err)
	}
}

// listening is serve's "listening" log line.
type listening struct {
	Msg, Addr string
	Pid       int // the plugin's
}

// startLogged starts cmd and returns the address and plugin pid of its
// "listening" log line, its stderr lines after that, and its Wait's result. It is killed
// at cleanup if still running.
func startLogged(t *testing.T, cmd *exec.Cmd) (string, int, <-chan string, <-chan error) {
	t.Helper()
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addrs, lines, exited := make(chan listening, 1), make(chan string, 100), make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			var line listening
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				addrs <- line
			}
			select {
			case lines <- sc.Text():
			default:
			}
		}
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	select {
	case a := <-addrs:
		return a.Addr, a.Pid, lines, exited
	case err := <-exited:
		t.Fatalf("serve exited before it listened: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve logged no listening line within 30 s")
	}
	return "", 0, nil, nil
}

// waitLogged waits up to 10 s for a log line containing want.
func waitLogged(t *testing.T, lines <-chan string, want string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case l := <-lines:
			if strings.Contains(l, want) {
				return
			}
		case <-timeout:
			t.Fatalf("serve logged no line with %q within 10 s", want)
		}
	}
}
