// Package pki makes certificate authorities and certificates for tests,
// valid for an hour: internal/certs, with the errors turned into test
// failures and the results in the shapes tests use (PEM, tls.Certificate,
// a pool).
package pki

import (
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tetherplug/tether/internal/certs"
)

// lifetime is how long test certificates are valid.
const lifetime = time.Hour

// CA is a certificate authority made up for one test.
type CA struct {
	Cert *x509.Certificate
	PEM  []byte // the CA certificate, PEM
	pair *certs.Pair
}

// Issued is a certificate a CA issued, with its key.
type Issued struct {
	CertPEM, KeyPEM []byte
	Serial          *big.Int
}

// TLS returns the issued pair as a tls.Certificate.
func (i Issued) TLS(tb testing.TB) tls.Certificate {
	tb.Helper()
	c, err := tls.X509KeyPair(i.CertPEM, i.KeyPEM)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// NewCA makes a self-signed ECDSA P-256 CA.
func NewCA(tb testing.TB, name string) *CA {
	tb.Helper()
	pair, err := certs.NewCA(name, lifetime)
	if err != nil {
		tb.Fatal(err)
	}
	return &CA{Cert: pair.Cert, PEM: pair.CertPEM(), pair: pair}
}

// Server issues a server certificate, with a fresh key, for localhost,
// 127.0.0.1 and ::1.
func (ca *CA) Server(tb testing.TB) Issued {
	tb.Helper()
	p, err := ca.pair.IssueServer("localhost", []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}, lifetime)
	return issued(tb, p, err)
}

// Client issues a client certificate with a fresh key.
func (ca *CA) Client(tb testing.TB, name string) Issued {
	tb.Helper()
	p, err := ca.pair.IssueClient(name, lifetime)
	return issued(tb, p, err)
}

func issued(tb testing.TB, p *certs.Pair, err error) Issued {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
	key, err := p.KeyPEM()
	if err != nil {
		tb.Fatal(err)
	}
	return Issued{CertPEM: p.CertPEM(), KeyPEM: key, Serial: p.Cert.SerialNumber}
}

// Pool returns a certificate pool holding just the CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// WriteFile writes data to dir/name, failing the test on error.
func WriteFile(tb testing.TB, dir, name string, data []byte) string {
	tb.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}
