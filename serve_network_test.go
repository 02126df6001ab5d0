package tether_test

import (
	"context"
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
)

// TestNetworkTLSRotation: certificate files replaced by rename while a host
// is connected: the connection keeps working and a new connection gets the
// new certificate, from the same process.
func TestNetworkTLSRotation(t *testing.T) {
	t.Parallel()
	k := newNetPKI(t)
	p := startNetEcho(t, true, k.env()...)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	cc := dial(t, p.addr, credentials.NewTLS(k.clientTLS(true)))
	echo := echov1.NewEchoClient(cc)
	if _, err := echo.Unary(ctx, &echov1.Message{}); err != nil {
		t.Fatal(err)
	}
	if s := servedSerial(t, p.addr, k); s != k.server.Serial.String() {
		t.Fatalf("served serial %s before rotation, want %s", s, k.server.Serial)
	}
	next := k.rotate(t)
	eventually(t, 5*time.Second, "a new connection gets the new certificate", func() bool {
		return servedSerial(t, p.addr, k) == next.Serial.String()
	})
	if _, err := echo.Unary(ctx, &echov1.Message{}); err != nil {
		t.Errorf("call on the connection made before rotation: %v", err)
	}
	select {
	case <-p.done:
		t.Fatalf("the plugin exited: %v", p.err)
	default:
	}
	p.waitLog(t, "certificate files changed; serving the new ones")
}

// servedSerial dials addr with a client certificate and returns the serial
// of the certificate the server presents.
func servedSerial(t *testing.T, addr string, k *netPKI) string {
	t.Helper()
	conf := k.clientTLS(true)
	conf.NextProtos = []string{"h2"}
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, conf)
	if err != nil {
		t.Fatalf("TLS dial: %v", err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

// TestNetworkInsecure: TETHER_INSECURE=1 serves plaintext and says so in a
// warning; TETHER_TLS_NO_CLIENT_AUTH=1 serves TLS to clients without a
// certificate, also with a warning.
func TestNetworkInsecure(t *testing.T) {
	t.Parallel()
	t.Run("plaintext", func(t *testing.T) {
		t.Parallel()
		p := startNetEcho(t, false, tether.EnvListen+"=127.0.0.1:0", tether.EnvInsecure+"=1")
		w := p.waitLog(t, "serving plaintext gRPC: anyone who reaches the port can call the plugin and read its traffic")
		if w["level"] != "WARN" || w["env"] != tether.EnvInsecure {
			t.Errorf("plaintext logged as %v, want a WARN naming %s", w, tether.EnvInsecure)
		}
		p.addr, _ = p.waitLog(t, "listening")["addr"].(string)
		cc := dial(t, p.addr, insecure.NewCredentials())
		if _, err := echov1.NewEchoClient(cc).Unary(t.Context(), &echov1.Message{}); err != nil {
			t.Errorf("plaintext call: %v", err)
		}
	})
	t.Run("no client auth", func(t *testing.T) {
		t.Parallel()
		k := newNetPKI(t)
		p := startNetEcho(t, false, tether.EnvListen+"=127.0.0.1:0", tether.EnvTLSCert+"="+k.certFile,
			tether.EnvTLSKey+"="+k.keyFile, tether.EnvTLSNoClientAuth+"=1")
		if w := p.waitLog(t, "serving TLS without client certificates: anyone who reaches the port can call the plugin"); w["level"] != "WARN" {
			t.Errorf("server-only TLS logged as %v, want WARN", w)
		}
		p.addr, _ = p.waitLog(t, "listening")["addr"].(string)
		cc := dial(t, p.addr, credentials.NewTLS(k.clientTLS(false)))
		if _, err := echov1.NewEchoClient(cc).Unary(t.Context(), &echov1.Message{}); err != nil {
			t.Errorf("call without a client certificate: %v", err)
		}
	})
}

// TestNetworkRefusesToStart: a network plugin whose environment is
// incomplete or wrong exits 1 with an error naming the variable.
func TestNetworkRefusesToStart(t *testing.T) {
	t.Parallel()
	k := newNetPKI(t)
	listen := tether.EnvListen + "=127.0.0.1:0"
	for _, c := range []struct {
		name string
		env  []string
		want string
	}{
		{"no certificate", []string{listen}, tether.EnvTLSCert},
		{"no key", []string{listen, tether.EnvTLSCert + "=" + k.certFile}, tether.EnvTLSKey},
		{"no client CA", []string{listen, tether.EnvTLSCert + "=" + k.certFile, tether.EnvTLSKey + "=" + k.keyFile}, tether.EnvTLSClientCA},
		{"missing certificate file", []string{listen, tether.EnvTLSCert + "=" + k.dir + "/nope.crt", tether.EnvTLSKey + "=" + k.keyFile, tether.EnvTLSClientCA + "=" + k.cafile}, tether.EnvTLSCert},
		{"key of another certificate", []string{listen, tether.EnvTLSCert + "=" + k.certFile, tether.EnvTLSKey + "=" + k.rotateKeyOnly(t), tether.EnvTLSClientCA + "=" + k.cafile}, tether.EnvTLSCert},
		{"bad grace", append(k.env(), tether.EnvShutdownGrace+"=soon"), tether.EnvShutdownGrace},
		{"bad address", []string{tether.EnvListen + "=127.0.0.1:99999", tether.EnvInsecure + "=1"}, tether.EnvListen},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p := startNetEcho(t, false, c.env...)
			if code := p.exitCode(t, 20*time.Second); code != 1 {
				t.Errorf("exit status %d, want 1", code)
			}
			out := p.stderr.String()
			if !strings.Contains(out, `"msg":"cannot serve on the network"`) || !strings.Contains(out, c.want) {
				t.Errorf("stderr does not say it cannot serve because of %s:\n%s", c.want, out)
			}
			if strings.Contains(out, `"msg":"listening"`) {
				t.Errorf("it logged listening:\n%s", out)
			}
		})
	}
}

// rotateKeyOnly writes the key of a fresh pair beside k's files and returns
// its path.
func (k *netPKI) rotateKeyOnly(t *testing.T) string {
	t.Helper()
	other := k.ca.Server(t)
	return writeTemp(t, k.dir, "other.key", other.KeyPEM)
}
