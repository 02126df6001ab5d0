package network_test

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/plugintest"
	testpki "github.com/tetherplug/tether/internal/plugintest/pki"
)

// pki is a test CA with one server and one client certificate, as PEM files.
type pki struct {
	dir                   string
	ca                    *testpki.CA
	caFile                string
	serverCert            tls.Certificate
	clientCert, clientKey string
}

// newPKI makes a CA and a server certificate for 127.0.0.1, ::1 and
// localhost, and a client certificate, signed by it.
func newPKI(t *testing.T) *pki {
	t.Helper()
	ca := testpki.NewCA(t, "test CA")
	p := &pki{dir: t.TempDir(), ca: ca, serverCert: ca.Server(t).TLS(t)}
	p.caFile = testpki.WriteFile(t, p.dir, "ca.pem", ca.PEM)
	cli := ca.Client(t, "host")
	p.clientCert = testpki.WriteFile(t, p.dir, "client.pem", cli.CertPEM)
	p.clientKey = testpki.WriteFile(t, p.dir, "client-key.pem", cli.KeyPEM)
	return p
}

// serverTLS is the plugin's side of mutual TLS: its certificate, and
// client certificates required and checked against the CA.
func (p *pki) serverTLS() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{p.serverCert}, ClientAuth: tls.RequireAndVerifyClientCert,
		ClientCAs: p.ca.Pool(), MinVersion: tls.VersionTLS12}
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
	cert, err := tls.LoadX509KeyPair(p.clientCert, p.clientKey)
	if err != nil {
		panic(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: p.ca.Pool()}
}
