package certs

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// chain is a CA with a server and a client certificate it signed.
type chain struct{ ca, server, client *Pair }

func newChain(t *testing.T) chain {
	t.Helper()
	ca, err := NewCA("test CA", CALifetime)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ca.IssueServer("greeter", []string{"localhost", "greeter.example"}, []net.IP{net.ParseIP("127.0.0.1")}, LeafLifetime)
	if err != nil {
		t.Fatal(err)
	}
	cli, err := ca.IssueClient("host-1", LeafLifetime)
	if err != nil {
		t.Fatal(err)
	}
	return chain{ca, srv, cli}
}

func pool(ca *Pair) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// TestIssuedCertificatesVerify: the server certificate verifies for server
// auth under each of its names, not for client auth nor another name; the
// client certificate verifies for client auth only; lifetimes and serials
// are as documented.
func TestIssuedCertificatesVerify(t *testing.T) {
	c := newChain(t)
	roots := pool(c.ca)
	for _, name := range []string{"localhost", "greeter.example", "127.0.0.1"} {
		_, err := c.server.Cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: name, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
		if err != nil {
			t.Errorf("server certificate for %q: %v", name, err)
		}
	}
	if _, err := c.server.Cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: "other.example"}); err == nil {
		t.Error("server certificate verified for a name it does not have")
	}
	if _, err := c.server.Cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
		t.Error("server certificate verified for client auth")
	}
	if _, err := c.client.Cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("client certificate: %v", err)
	}
	if _, err := c.client.Cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err == nil {
		t.Error("client certificate verified for server auth")
	}
	if c.client.Cert.Subject.CommonName != "host-1" {
		t.Errorf("client CN = %q, want host-1", c.client.Cert.Subject.CommonName)
	}
	if !c.ca.Cert.IsCA || c.ca.Cert.KeyUsage&x509.KeyUsageCertSign == 0 || c.server.Cert.IsCA || c.client.Cert.IsCA {
		t.Error("only the CA may be a CA and sign certificates")
	}
	for name, p := range map[string]*Pair{"ca": c.ca, "server": c.server, "client": c.client} {
		want := LeafLifetime
		if p == c.ca {
			want = CALifetime
		}
		if got := p.Cert.NotAfter.Sub(p.Cert.NotBefore) - Backdate; got < want-time.Minute || got > want+time.Minute {
			t.Errorf("%s lifetime %v, want %v", name, got, want)
		}
		if bits := p.Cert.SerialNumber.BitLen(); bits < 100 || bits > 128 {
			t.Errorf("%s serial has %d bits, want a random 128-bit number", name, bits)
		}
	}
}

// TestLeafNeverOutlivesCA: a leaf asked to live longer than its CA ends with it.
func TestLeafNeverOutlivesCA(t *testing.T) {
	ca, err := NewCA("short CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.IssueClient("c", LeafLifetime)
	if err != nil {
		t.Fatal(err)
	}
	if !leaf.Cert.NotAfter.Equal(ca.Cert.NotAfter) {
		t.Errorf("leaf ends %v, CA ends %v", leaf.Cert.NotAfter, ca.Cert.NotAfter)
	}
}

// TestBadInput: each bad request is refused with the error naming its cause.
func TestBadInput(t *testing.T) {
	c := newChain(t)
	cases := map[string]struct {
		err  error
		want error
	}{
		"no SAN":         {err2(c.ca.IssueServer("s", nil, nil, LeafLifetime)), ErrNoSAN},
		"bad DNS":        {err2(c.ca.IssueServer("s", []string{"bad_name"}, nil, LeafLifetime)), ErrBadName},
		"IP as DNS":      {err2(c.ca.IssueServer("s", []string{"10.0.0.1"}, nil, LeafLifetime)), ErrBadName},
		"empty CN":       {err2(c.ca.IssueClient(" ", LeafLifetime)), ErrBadName},
		"zero lifetime":  {err2(c.ca.IssueClient("c", 0)), ErrBadLifetime},
		"leaf as CA":     {err2(c.server.IssueClient("c", LeafLifetime)), ErrNotCA},
		"negative CA":    {err2(NewCA("ca", -time.Hour)), ErrBadLifetime},
		"wildcard is ok": {err2(c.ca.IssueServer("s", []string{"*.svc.example"}, nil, LeafLifetime)), nil},
	}
	for name, tc := range cases {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: err = %v, want %v", name, tc.err, tc.want)
		}
	}
}

func err2(_ *Pair, err error) error { return err }

func tlsCert(t *testing.T, p *Pair) tls.Certificate {
	t.Helper()
	keyPEM, err := p.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	c, err := tls.X509KeyPair(p.CertPEM(), keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// handshake runs a TLS 1.3 handshake over net.Pipe between a server that
// requires and verifies client certificates from serverCA and a client
// trusting clientCA, and returns the server's and the client's errors.
func handshake(t *testing.T, server, client *Pair, serverCA, clientCA *Pair) (error, error) {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	srv := tls.Server(a, &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{tlsCert(t, server)},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool(serverCA),
	})
	cli := tls.Client(b, &tls.Config{
		MinVersion:   tls.VersionTLS13,
		ServerName:   "greeter.example",
		RootCAs:      pool(clientCA),
		Certificates: []tls.Certificate{tlsCert(t, client)},
	})
	done := make(chan error, 1)
	go func() {
		err := srv.Handshake()
		if err == nil {
			// TLS 1.3 clients learn the server refused them on their first read.
			_, err = srv.Write([]byte("ok"))
		}
		a.Close()
		done <- err
	}()
	cliErr := cli.Handshake()
	if cliErr == nil {
		_, cliErr = io.ReadFull(cli, make([]byte, 2))
	}
	b.Close()
	select {
	case srvErr := <-done:
		return srvErr, cliErr
	case <-time.After(10 * time.Second):
		t.Fatal("server handshake did not end within 10 s")
		return nil, nil
	}
}

// TestMutualTLS: a server and a client with certificates of one CA shake
// hands over TLS 1.3 with required client certificates; a client
// certificate of another CA is refused by the server, and a server
// certificate of another CA by the client.
func TestMutualTLS(t *testing.T) {
	c, other := newChain(t), newChain(t)
	if srvErr, cliErr := handshake(t, c.server, c.client, c.ca, c.ca); srvErr != nil || cliErr != nil {
		t.Fatalf("same CA: server: %v, client: %v", srvErr, cliErr)
	}
	srvErr, _ := handshake(t, c.server, other.client, c.ca, c.ca)
	var unknown x509.UnknownAuthorityError
	if !errors.As(srvErr, &unknown) {
		t.Errorf("client of another CA: server error = %v, want x509.UnknownAuthorityError", srvErr)
	}
	_, cliErr := handshake(t, other.server, c.client, c.ca, c.ca)
	if !errors.As(cliErr, &unknown) {
		t.Errorf("server of another CA: client error = %v, want x509.UnknownAuthorityError", cliErr)
	}
}

// TestWriteAndLoad: written files have the documented modes and PEM types,
// load back as the same pair, and a CA loads as a CA while a leaf does not.
func TestWriteAndLoad(t *testing.T) {
	c := newChain(t)
	dir := t.TempDir()
	crt, key := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
	if err := c.ca.WriteFiles(crt, key, false); err != nil {
		t.Fatal(err)
	}
	for f, mode := range map[string]fs.FileMode{crt: 0o644, key: 0o600} {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != mode {
			t.Errorf("%s has mode %v, want %v", f, st.Mode().Perm(), mode)
		}
	}
	if b, _ := os.ReadFile(key); !strings.HasPrefix(string(b), "-----BEGIN PRIVATE KEY-----\n") {
		t.Errorf("key file is not a PKCS #8 PEM block: %.40q", b)
	}
	got, err := LoadCA(crt, key)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Cert.Equal(c.ca.Cert) || !got.Key.Equal(c.ca.Key) {
		t.Error("loaded CA differs from the written one")
	}
	lc, lk := filepath.Join(dir, "s.crt"), filepath.Join(dir, "s.key")
	if err := c.server.WriteFiles(lc, lk, false); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCA(lc, lk); !errors.Is(err, ErrNotCA) {
		t.Errorf("LoadCA of a server certificate: %v, want ErrNotCA", err)
	}
	if _, err := LoadPair(crt, lk); !errors.Is(err, ErrKeyMismatch) {
		t.Errorf("LoadPair with another's key: %v, want ErrKeyMismatch", err)
	}
	if _, err := LoadPair(key, key); !errors.Is(err, ErrBadPEM) {
		t.Errorf("LoadPair of a key as certificate: %v, want ErrBadPEM", err)
	}
	if _, err := LoadCA(filepath.Join(dir, "none.crt"), key); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadCA of a missing file: %v, want fs.ErrNotExist", err)
	}
	left, _ := os.ReadDir(dir)
	if len(left) != 4 {
		t.Errorf("directory holds %d entries, want the 4 files (no temporary files)", len(left))
	}
}

// TestNoOverwriteWithoutForce: writing over an existing file fails with
// fs.ErrExist and leaves both files as they were, even when only one exists;
// with force it replaces them, keeping the modes.
func TestNoOverwriteWithoutForce(t *testing.T) {
	c := newChain(t)
	dir := t.TempDir()
	crt, key := filepath.Join(dir, "x.crt"), filepath.Join(dir, "x.key")
	if err := os.WriteFile(crt, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.client.WriteFiles(crt, key, false); !errors.Is(err, fs.ErrExist) || !strings.Contains(err.Error(), crt) {
		t.Fatalf("err = %v, want fs.ErrExist naming %s", err, crt)
	}
	if b, _ := os.ReadFile(crt); string(b) != "old" {
		t.Error("the existing certificate was changed")
	}
	if _, err := os.Stat(key); !errors.Is(err, fs.ErrNotExist) {
		t.Error("a key was written beside a certificate that was not")
	}
	if err := WriteFile(crt, []byte("new"), 0o644, false); !errors.Is(err, fs.ErrExist) {
		t.Errorf("WriteFile over an existing file: %v, want fs.ErrExist", err)
	}
	if err := os.WriteFile(key, []byte("old"), 0o666); err != nil {
		t.Fatal(err)
	}
	if err := c.client.WriteFiles(crt, key, true); err != nil {
		t.Fatal(err)
	}
	got, err := LoadPair(crt, key)
	if err != nil || !got.Cert.Equal(c.client.Cert) {
		t.Fatalf("after force: %v", err)
	}
	if st, _ := os.Stat(key); st.Mode().Perm() != 0o600 {
		t.Errorf("forced key has mode %v, want 0600", st.Mode().Perm())
	}
	names := []string{}
	left, _ := os.ReadDir(dir)
	for _, e := range left {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"x.crt", "x.key"}) {
		t.Errorf("directory holds %v, want only x.crt and x.key", names)
	}
}
