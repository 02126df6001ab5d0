package tether_test

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/plugintest/pki"
)

// netPlugin is an echo plugin process serving on TCP.
type netPlugin struct {
	cmd    *exec.Cmd
	addr   string // logged by the plugin; empty if it never listened
	stdout *syncBuffer
	stderr *syncBuffer
	lines  chan map[string]any // every JSON line on stderr
	done   chan struct{}       // closed when the process was waited for
	err    error               // Wait's result, after done
}

// netEnv is an environment without any variable of the launch or network
// protocol from the test's own, plus extra.
func netEnv(mark string, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TETHER_") && !strings.HasPrefix(kv, "PLUGIN_") && !strings.HasPrefix(kv, "ECHO_MODE=") {
			env = append(env, kv)
		}
	}
	return append(append(env, "TETHER_TEST_MARK="+mark), extra...)
}

// startNetEcho starts the echo plugin with env added and waits, when wait is
// true, for it to log the address it listens on. The process is killed if
// still running when the test ends, and checked gone.
func startNetEcho(t *testing.T, wait bool, env ...string) *netPlugin {
	t.Helper()
	mark := fmt.Sprintf("%d-net-%d", os.Getpid(), markSeq.Add(1))
	p := &netPlugin{
		cmd: exec.Command(echoPath(t)), stdout: &syncBuffer{}, stderr: &syncBuffer{},
		lines: make(chan map[string]any, 100), done: make(chan struct{}),
	}
	p.cmd.Env = netEnv(mark, env...)
	p.cmd.Stdout = p.stdout
	errPipe, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(errPipe)
		for sc.Scan() {
			_, _ = p.stderr.Write(append(sc.Bytes(), '\n'))
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				select {
				case p.lines <- m:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, errPipe)
	}()
	go func() { <-scanned; p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			t.Errorf("plugin %d not reaped 10 s after SIGKILL", p.cmd.Process.Pid)
		}
		noProcessLeft(t, mark)
	})
	if wait {
		m := p.waitLog(t, "listening")
		p.addr, _ = m["addr"].(string)
		if p.addr == "" {
			t.Fatalf("the listening line has no addr: %v", m)
		}
	}
	return p
}

// waitLog waits up to 20 s for a JSON log line with message msg.
func (p *netPlugin) waitLog(t *testing.T, msg string) map[string]any {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case m := <-p.lines:
			if m["msg"] == msg {
				return m
			}
		case <-p.done:
			t.Fatalf("plugin exited (%v) before logging %q; stderr:\n%s", p.err, msg, p.stderr.String())
		case <-timeout:
			t.Fatalf("plugin did not log %q within 20 s; stderr:\n%s", msg, p.stderr.String())
		}
	}
}

// exitCode waits up to d for the process to exit and returns its status.
func (p *netPlugin) exitCode(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		t.Fatalf("plugin still running %v later; stderr:\n%s", d, p.stderr.String())
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		t.Fatalf("waiting for the plugin: %v", p.err)
	}
	return 0
}

// netPKI is a CA with a server pair and client CA bundle written to files.
type netPKI struct {
	ca                        *pki.CA
	dir                       string
	certFile, keyFile, cafile string
	server                    pki.Issued
	client                    tls.Certificate
}

func newNetPKI(t *testing.T) *netPKI {
	t.Helper()
	k := &netPKI{ca: pki.NewCA(t, "test-ca"), dir: t.TempDir()}
	k.server = k.ca.Server(t)
	k.certFile = pki.WriteFile(t, k.dir, "tls.crt", k.server.CertPEM)
	k.keyFile = pki.WriteFile(t, k.dir, "tls.key", k.server.KeyPEM)
	k.cafile = pki.WriteFile(t, k.dir, "ca.crt", k.ca.PEM)
	k.client = k.ca.Client(t, "host").TLS(t)
	return k
}

// env is the plugin environment serving mutual TLS from k's files.
func (k *netPKI) env() []string {
	return []string{
		tether.EnvListen + "=127.0.0.1:0", tether.EnvTLSCert + "=" + k.certFile,
		tether.EnvTLSKey + "=" + k.keyFile, tether.EnvTLSClientCA + "=" + k.cafile,
	}
}

// rotate replaces the server's files, by rename, with a new pair and
// returns it.
func (k *netPKI) rotate(t *testing.T) pki.Issued {
	t.Helper()
	next := k.ca.Server(t)
	for name, data := range map[string][]byte{"tls.key": next.KeyPEM, "tls.crt": next.CertPEM} {
		tmp := pki.WriteFile(t, k.dir, name+".new", data)
		if err := os.Rename(tmp, filepath.Join(k.dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return next
}

// clientTLS is the client side: trusting k's CA, with k's client
// certificate if withCert.
func (k *netPKI) clientTLS(withCert bool) *tls.Config {
	c := &tls.Config{RootCAs: k.ca.Pool(), ServerName: "localhost"}
	if withCert {
		c.Certificates = []tls.Certificate{k.client}
	}
	return c
}

// dial is a gRPC client of addr, closed when the test ends.
func dial(t *testing.T, addr string, creds credentials.TransportCredentials) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// writeTemp writes data to dir/name and returns the path.
func writeTemp(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	return pki.WriteFile(t, dir, name, data)
}
