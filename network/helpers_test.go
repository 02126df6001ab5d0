package network_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/plugintest"
)

// pki is a test CA with one server and one client certificate, as PEM files.
type pki struct {
	dir                   string
	ca                    *x509.Certificate
	caKey                 *ecdsa.PrivateKey
	caFile                string
	serverCert            tls.Certificate
	clientCert, clientKey string
}

var serial atomic.Int64

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func template(cn string) *x509.Certificate {
	return &x509.Certificate{SerialNumber: big.NewInt(serial.Add(1)), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
}

// newPKI makes a CA and a server certificate for 127.0.0.1, ::1 and
// localhost, and a client certificate, signed by it.
func newPKI(t *testing.T) *pki {
	t.Helper()
	p := &pki{dir: t.TempDir(), caKey: newKey(t)}
	ca := template("test CA")
	ca.IsCA, ca.BasicConstraintsValid, ca.KeyUsage = true, true, x509.KeyUsageCertSign
	der, err := x509.CreateCertificate(rand.Reader, ca, ca, &p.caKey.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	if p.ca, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	p.caFile = p.write(t, "ca.pem", "CERTIFICATE", der)
	srv := template("server")
	srv.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	srv.DNSNames = []string{"localhost"}
	srv.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	p.serverCert = p.issue(t, srv)
	cli := template("host")
	cli.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	cc := p.issue(t, cli)
	p.clientCert = p.write(t, "client.pem", "CERTIFICATE", cc.Certificate[0])
	keyDER, err := x509.MarshalPKCS8PrivateKey(cc.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	p.clientKey = p.write(t, "client-key.pem", "PRIVATE KEY", keyDER)
	return p
}

func (p *pki) issue(t *testing.T, tmpl *x509.Certificate) tls.Certificate {
	t.Helper()
	k := newKey(t)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &k.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k}
}

func (p *pki) write(t *testing.T, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// serverTLS is the plugin's side of mutual TLS: its certificate, and
// client certificates required and checked against the CA.
func (p *pki) serverTLS() *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(p.ca)
	return &tls.Config{Certificates: []tls.Certificate{p.serverCert}, ClientAuth: tls.RequireAndVerifyClientCert,
		ClientCAs: pool, MinVersion: tls.VersionTLS12}
}

// countingEcho is the echo service counting the calls it answers.
type countingEcho struct {
	plugintest.EchoServer
	calls atomic.Int64
}

func (e *countingEcho) Unary(ctx context.Context, m *echov1.Message) (*echov1.Message, error) {
	e.calls.Add(1)
	return e.EchoServer.Unary(ctx, m)
}

// plugin is an in-process plugin serving echo on a listener.
type plugin struct {
	srv   *tether.Server
	creds credentials.TransportCredentials // nil: plaintext
	echo  *countingEcho
	addr  string
	done  chan struct{}
}

// servePlugin serves an echo plugin on lis with the given server options
// until the test ends.
func servePlugin(t *testing.T, lis net.Listener, opts ...grpc.ServerOption) *plugin {
	t.Helper()
	p := &plugin{echo: &countingEcho{}, addr: lis.Addr().String(), done: make(chan struct{})}
	p.srv = tether.NewServer(tether.ServeConfig{Name: "echo", Logger: quietLogger(),
		ShutdownTimeout: 100 * time.Millisecond,
		Implementations: []tether.Implementation{tether.Implement("echo", 1, func(r grpc.ServiceRegistrar) {
			echov1.RegisterEchoServer(r, p.echo)
		})}}, opts...)
	go func() { _ = p.srv.Serve(lis); close(p.done) }()
	t.Cleanup(p.stop)
	return p
}

// stop stops the plugin and waits for Serve to return.
func (p *plugin) stop() {
	p.srv.Stop()
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		panic("plugin server did not stop")
	}
}

// listen listens on a free loopback TCP port.
func listen(t *testing.T) net.Listener {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return lis
}

// serveTLS serves an echo plugin with mutual TLS on a new loopback port.
func serveTLS(t *testing.T, p *pki) *plugin {
	t.Helper()
	creds := credentials.NewTLS(p.serverTLS())
	srv := servePlugin(t, listen(t), grpc.Creds(creds))
	srv.creds = creds
	return srv
}

// quietLogger discards what it is given.
func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// clientTLS is the host's side of mutual TLS.
func (p *pki) clientTLS() *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(p.ca)
	cert, err := tls.LoadX509KeyPair(p.clientCert, p.clientKey)
	if err != nil {
		panic(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool}
}
