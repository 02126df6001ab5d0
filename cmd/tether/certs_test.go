package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// makePKI runs tether certs to make a CA, a server certificate "greeter"
// for localhost and 127.0.0.1, and a client certificate "host-1", in dir.
func makePKI(t *testing.T, dir string) {
	t.Helper()
	for _, args := range [][]string{
		{"certs", "ca", "--dir", dir},
		{"certs", "server", "--dir", dir, "--ca-dir", dir, "--name", "greeter", "--dns", "localhost", "--ip", "127.0.0.1"},
		{"certs", "client", "--dir", dir, "--ca-dir", dir, "--name", "host-1", "--days", "30"},
	} {
		r := run(t, "", nil, args...)
		requireOK(t, r)
		if !strings.Contains(r.stdout, "wrote ") {
			t.Errorf("tether %v printed %q, want what it wrote", args, r.stdout)
		}
	}
}

// mtlsHandshake has a loopback TLS 1.3 server with the certificates of
// serverDir, requiring client certificates of its CA, accept one connection
// from a client with the client certificate of clientDir (trusting the
// server's CA), and returns the server's and the client's errors.
func mtlsHandshake(t *testing.T, serverDir, clientDir string) (error, error) {
	t.Helper()
	srvCert, err := tls.LoadX509KeyPair(filepath.Join(serverDir, "greeter.crt"), filepath.Join(serverDir, "greeter.key"))
	if err != nil {
		t.Fatal(err)
	}
	cliCert, err := tls.LoadX509KeyPair(filepath.Join(clientDir, "host-1.crt"), filepath.Join(clientDir, "host-1.key"))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{srvCert},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: caPool(t, serverDir),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			err = c.(*tls.Conn).Handshake()
			if err == nil {
				_, err = c.Write([]byte("ok"))
			}
			c.Close()
		}
		done <- err
	}()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ln.Addr().String(), &tls.Config{
		MinVersion: tls.VersionTLS13, ServerName: "localhost",
		RootCAs: caPool(t, serverDir), Certificates: []tls.Certificate{cliCert},
	})
	if err == nil {
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		_, err = io.ReadFull(conn, make([]byte, 2))
		conn.Close()
	}
	select {
	case srvErr := <-done:
		return srvErr, err
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not finish its handshake within 10 s")
		return nil, nil
	}
}

func caPool(t *testing.T, dir string) *x509.CertPool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(b) {
		t.Fatal("ca.crt holds no certificate")
	}
	return p
}

// TestCertsMutualTLS: the files tether certs writes make a mutual TLS
// connection; a client whose certificate another CA signed is refused.
func TestCertsMutualTLS(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	makePKI(t, dir)
	makePKI(t, other)
	for name, mode := range map[string]os.FileMode{"ca.crt": 0o644, "ca.key": 0o600, "greeter.crt": 0o644, "greeter.key": 0o600, "host-1.crt": 0o644, "host-1.key": 0o600} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != mode {
			t.Errorf("%s has mode %v, want %v", name, st.Mode().Perm(), mode)
		}
	}
	if srvErr, cliErr := mtlsHandshake(t, dir, dir); srvErr != nil || cliErr != nil {
		t.Fatalf("one CA: server: %v; client: %v", srvErr, cliErr)
	}
	srvErr, _ := mtlsHandshake(t, dir, other)
	var unknown x509.UnknownAuthorityError
	if !errors.As(srvErr, &unknown) {
		t.Errorf("client of another CA: server error %v, want x509.UnknownAuthorityError", srvErr)
	}
}

// TestCertsErrors: each mistake exits 1 with a message naming it, and
// leaves existing files as they were.
func TestCertsErrors(t *testing.T) {
	dir := t.TempDir()
	empty := t.TempDir()
	makePKI(t, dir)
	caBefore, err := os.ReadFile(filepath.Join(dir, "ca.key"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"certs", "ca", "--dir", dir}, []string{filepath.Join(dir, "ca.crt"), "already exists", "--force"}},
		{[]string{"certs", "client", "--dir", dir, "--ca-dir", dir, "--name", "host-1"}, []string{"host-1.crt", "already exists"}},
		{[]string{"certs", "client", "--dir", dir, "--ca-dir", empty, "--name", "c"}, []string{"no CA in " + empty, "ca.crt", "tether certs ca --dir " + empty}},
		{[]string{"certs", "server", "--dir", dir, "--ca-dir", dir, "--name", "s", "--ip", "127.0.0.300"}, []string{`--ip "127.0.0.300" is not an IP address`}},
		{[]string{"certs", "server", "--dir", dir, "--ca-dir", dir, "--name", "s"}, []string{"at least one --dns name or --ip address"}},
		{[]string{"certs", "server", "--dir", dir, "--ca-dir", dir, "--name", "s", "--dns", "bad_name"}, []string{`DNS name "bad_name"`}},
		{[]string{"certs", "client", "--dir", dir, "--ca-dir", dir, "--name", "../x"}, []string{`--name "../x"`}},
		{[]string{"certs", "client", "--dir", dir, "--ca-dir", dir, "--name", "ca", "--force"}, []string{"the CA's own certificate"}},
		{[]string{"certs", "client", "--dir", dir, "--ca-dir", dir, "--name", "c", "--days", "0"}, []string{"--days must be positive"}},
		{[]string{"certs", "client", "--dir", dir, "--name", "c"}, []string{`"ca-dir" not set`}},
		{[]string{"certs", "client", "--dir", dir, "--ca-dir", filepath.Join(dir, "host-1.crt"), "--name", "c"}, []string{"loading the CA"}},
		{[]string{"certs"}, []string{"certs needs a subcommand"}},
	}
	for _, tc := range cases {
		r := run(t, "", nil, tc.args...)
		if r.code != 1 {
			t.Errorf("tether %v: exit status %d, want 1; stderr: %s", tc.args, r.code, r.stderr)
		}
		for _, w := range tc.want {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("tether %v: stderr %q does not say %q", tc.args, r.stderr, w)
			}
		}
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "ca.key")); !bytes.Equal(after, caBefore) {
		t.Error("a refused command changed the CA's key")
	}
	if _, err := os.Stat(filepath.Join(empty, "c.key")); !errors.Is(err, os.ErrNotExist) {
		t.Error("a failed issue left a key behind")
	}
	requireOK(t, run(t, "", nil, "certs", "client", "--dir", dir, "--ca-dir", dir, "--name", "host-1", "--force"))
	if srvErr, cliErr := mtlsHandshake(t, dir, dir); srvErr != nil || cliErr != nil {
		t.Fatalf("after --force: server: %v; client: %v", srvErr, cliErr)
	}
}
