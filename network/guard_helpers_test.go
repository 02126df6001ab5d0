package network_test

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/plugintest"
	testpki "github.com/tetherplug/tether/internal/plugintest/pki"
	"github.com/tetherplug/tether/network"
	"github.com/tetherplug/tether/tethertest"
)

// guarded is the echo plugin serving with mutual TLS as a separate
// process, its log kept for the test to read.
type guarded struct {
	cmd       *exec.Cmd
	addr      string
	stderr    *plugintest.SyncBuffer
	exited    chan error
	clientTLS *tls.Config   // a certificate the plugin trusts
	tlsOpt    tether.Option // the same, for tether.Open
}

// startGuarded starts the echo plugin as a network plugin with mutual TLS
// and env, run through prefix (a program and its arguments, or nothing),
// and waits up to 20 s for its listening line. It is killed when the test
// ends.
func startGuarded(t *testing.T, prefix []string, env ...string) *guarded {
	t.Helper()
	p := startGuardedNoWait(t, prefix, env...)
	plugintest.Eventually(t, 20*time.Second, "listening (stderr: "+p.stderr.String()+")", func() bool {
		return p.listening() != ""
	})
	p.addr = p.listening()
	return p
}

// startGuardedNoWait starts the plugin as startGuarded does, without
// waiting for it to listen.
func startGuardedNoWait(t *testing.T, prefix []string, env ...string) *guarded {
	t.Helper()
	ca := testpki.NewCA(t, "test CA")
	dir := t.TempDir()
	srv, cli := ca.Server(t), ca.Client(t, "host")
	caFile := testpki.WriteFile(t, dir, "ca.crt", ca.PEM)
	p := &guarded{stderr: &plugintest.SyncBuffer{}, exited: make(chan error, 1),
		clientTLS: &tls.Config{Certificates: []tls.Certificate{cli.TLS(t)}, RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12},
		tlsOpt: network.WithTLSFiles(testpki.WriteFile(t, dir, "client.crt", cli.CertPEM),
			testpki.WriteFile(t, dir, "client.key", cli.KeyPEM), caFile)}
	args := append(append([]string{}, prefix...), tethertest.Build(t, plugintest.EchoPlugin))
	p.cmd = exec.Command(args[0], args[1:]...)
	p.cmd.Env = append(os.Environ(), append([]string{tether.EnvListen + "=127.0.0.1:0",
		tether.EnvTLSCert + "=" + testpki.WriteFile(t, dir, "server.crt", srv.CertPEM),
		tether.EnvTLSKey + "=" + testpki.WriteFile(t, dir, "server.key", srv.KeyPEM),
		tether.EnvTLSClientCA + "=" + caFile}, env...)...)
	pipe, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			_, _ = p.stderr.Write(append(sc.Bytes(), '\n'))
		}
		p.exited <- p.cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			t.Error("the plugin did not exit within 10 s of SIGKILL")
		}
	})
	return p
}

// listening is the address of the plugin's listening line, if it logged it.
func (p *guarded) listening() string {
	for line := range strings.Lines(p.stderr.String()) {
		var rec struct{ Msg, Addr string }
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" {
			return rec.Addr
		}
	}
	return ""
}

// logged reports whether the plugin logged a line with message msg.
func (p *guarded) logged(msg string) bool {
	for line := range strings.Lines(p.stderr.String()) {
		var rec struct{ Msg string }
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == msg {
			return true
		}
	}
	return false
}
