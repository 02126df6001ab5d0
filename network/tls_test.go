package network_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/network"
	"github.com/tetherplug/tether/tethertest"
)

func TestMain(m *testing.M) { tethertest.Main(m) }

// call makes one echo call through c and fails the test if it fails.
func call(t *testing.T, c *tether.Client, text string) {
	t.Helper()
	echo, err := tether.Dispense(c, "echo", echov1.NewEchoClient)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	resp, err := echo.Unary(ctx, &echov1.Message{Text: text})
	if err != nil || resp.GetText() != text {
		t.Fatalf("echo %q: %q, %v", text, resp.GetText(), err)
	}
}

// TestMutualTLS: a host with the client certificate and the server's CA
// opens a tcp target and calls the plugin.
func TestMutualTLS(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	srv := serveTLS(t, p)
	c, err := tether.Open(t.Context(), "tcp://"+srv.addr, network.WithTLSFiles(p.clientCert, p.clientKey, p.caFile),
		tether.WithInterface("echo", 1), tether.WithStartTimeout(5*time.Second), tether.WithLogger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	call(t, c, "over mutual TLS")
	if srv.echo.calls.Load() != 1 {
		t.Errorf("the server counted %d calls, want 1", srv.echo.calls.Load())
	}
}

// openFails opens target with opts, expects a failure within bound, and
// returns its message.
func openFails(t *testing.T, target string, bound time.Duration, opts ...tether.Option) error {
	t.Helper()
	start := time.Now()
	c, err := tether.Open(t.Context(), target, append(opts, tether.WithStartTimeout(bound),
		tether.WithLogger(quietLogger()))...)
	if err == nil {
		c.Close()
		t.Fatalf("Open %s succeeded", target)
	}
	t.Logf("after %v: %v", time.Since(start).Round(time.Millisecond), err)
	if took := time.Since(start); took > bound+time.Second {
		t.Errorf("Open took %v to fail, bound %v", took, bound)
	}
	var pe *tether.PluginError
	if !errors.As(err, &pe) {
		t.Errorf("error %T is not a *tether.PluginError: %v", err, err)
	}
	return err
}

func wantIn(t *testing.T, err error, parts ...string) {
	t.Helper()
	for _, s := range parts {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error does not say %q: %v", s, err)
		}
	}
}

// TestNoClientCertificate: a host without a client certificate is refused
// by a plugin that requires one, within the start timeout, and the error
// names the TLS cause.
func TestNoClientCertificate(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	srv := serveTLS(t, p)
	conf := p.clientTLS()
	conf.Certificates = nil
	err := openFails(t, "tcp://"+srv.addr, 5*time.Second, network.WithTLSConfig(conf))
	wantIn(t, err, "tls: certificate required")
}

// TestWrongCA: a server certificate signed by a CA the host does not trust
// fails with the verification error.
func TestWrongCA(t *testing.T) {
	t.Parallel()
	p, other := newPKI(t), newPKI(t)
	srv := serveTLS(t, p)
	err := openFails(t, "tcp://"+srv.addr, 5*time.Second, network.WithTLSFiles(p.clientCert, p.clientKey, other.caFile))
	wantIn(t, err, "certificate signed by unknown authority")
}

// TestNameMismatch: a server certificate that does not name the host the
// client asked for fails naming the name it was checked against.
func TestNameMismatch(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	srv := serveTLS(t, p)
	err := openFails(t, "tcp://"+srv.addr, 5*time.Second, network.WithTLSFiles(p.clientCert, p.clientKey, p.caFile),
		network.WithServerName("plugins.example"))
	wantIn(t, err, "plugins.example")
}

// TestPlaintextClientOnTLSPort: WithInsecure against a TLS port fails
// clearly: at once for a single address (ErrTLS, it answered a TLS
// handshake), within the start timeout for several (each connection is
// cut off before the server says anything), never saying that a TLS
// handshake completed.
func TestPlaintextClientOnTLSPort(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	srv, other := serveTLS(t, p), serveTLS(t, p)
	start := time.Now()
	err := openFails(t, "tcp://"+srv.addr, 20*time.Second, network.WithInsecure())
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("a single TLS address failed after %v, want at once", took)
	}
	if !errors.Is(err, tether.ErrTLS) {
		t.Errorf("%v is not ErrTLS", err)
	}
	const clause = " serves TLS (it answered a TLS handshake) and the host connects in plaintext: " +
		"give the host network.WithTLSFiles or network.WithTLSConfig, not network.WithInsecure"
	wantIn(t, err, srv.addr+clause)
	if doc, rerr := os.ReadFile("../docs/network.md"); rerr != nil || !strings.Contains(string(doc), "10.0.0.7:7000"+clause) {
		t.Errorf("docs/network.md does not quote %q (%v)", "10.0.0.7:7000"+clause, rerr)
	}

	err = openFails(t, "tcp://"+srv.addr+","+other.addr, 3*time.Second, network.WithInsecure())
	wantIn(t, err, "closed a plaintext connection before it sent anything (does it serve TLS? "+
		"then give the host network.WithTLSFiles or network.WithTLSConfig, not network.WithInsecure)")
	if strings.Contains(err.Error(), "completed the TLS handshake") {
		t.Errorf("a plaintext connection reported as a TLS one: %v", err)
	}
}

// TestTLSClientOnPlaintextPort: a TLS client against a plaintext plugin
// fails naming the TLS handshake.
func TestTLSClientOnPlaintextPort(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	srv := servePlugin(t, listen(t))
	err := openFails(t, "tcp://"+srv.addr, 5*time.Second, network.WithTLSFiles(p.clientCert, p.clientKey, p.caFile))
	wantIn(t, err, "the server does not speak TLS (is it plaintext? then network.WithInsecure)")
}
