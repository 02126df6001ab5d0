package tlsreload_test

import (
	"crypto/tls"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetherplug/tether/internal/plugintest/pki"
	"github.com/tetherplug/tether/internal/tlsreload"
)

// serve accepts TLS connections with conf until the test ends and returns
// the address.
func serve(t *testing.T, conf *tls.Config) string {
	t.Helper()
	lis, err := tls.Listen("tcp", "127.0.0.1:0", conf)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { _ = lis.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				_ = c.(*tls.Conn).Handshake()
				_ = c.Close()
			}()
		}
	}()
	return lis.Addr().String()
}

// servedSerial dials addr and returns the serial of the server's
// certificate, or the handshake's error.
func servedSerial(t *testing.T, addr string, ca *pki.CA, client *tls.Certificate) (*big.Int, error) {
	t.Helper()
	conf := &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"}
	if client != nil {
		conf.Certificates = []tls.Certificate{*client}
	}
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, conf)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	// With TLS 1.3 a refused client certificate shows on the first read.
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != nil && !strings.Contains(err.Error(), "EOF") {
		return nil, err
	}
	return c.ConnectionState().PeerCertificates[0].SerialNumber, nil
}

func writePair(t *testing.T, dir string, p pki.Issued) {
	t.Helper()
	pki.WriteFile(t, dir, "tls.crt", p.CertPEM)
	pki.WriteFile(t, dir, "tls.key", p.KeyPEM)
}

// TestRotationInPlace: files rewritten in place are served from the next
// handshake on.
func TestRotationInPlace(t *testing.T) {
	dir := t.TempDir()
	ca := pki.NewCA(t, "ca")
	first, second := ca.Server(t), ca.Server(t)
	writePair(t, dir, first)
	r, err := tlsreload.New(tlsreload.Config{
		CertFile: filepath.Join(dir, "tls.crt"), KeyFile: filepath.Join(dir, "tls.key"), Interval: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, r.TLSConfig())
	if s, err := servedSerial(t, addr, ca, nil); err != nil || s.Cmp(first.Serial) != 0 {
		t.Fatalf("first serial %v (%v), want %v", s, err, first.Serial)
	}
	writePair(t, dir, second)
	if s, err := servedSerial(t, addr, ca, nil); err != nil || s.Cmp(second.Serial) != 0 {
		t.Fatalf("serial after rotation %v (%v), want %v", s, err, second.Serial)
	}
}

// TestRotationBySymlinkSwap: the Kubernetes Secret layout (tls.crt ->
// ..data/tls.crt, ..data -> a timestamped directory, swapped by renaming a
// new link over ..data) is picked up.
func TestRotationBySymlinkSwap(t *testing.T) {
	dir := t.TempDir()
	ca := pki.NewCA(t, "ca")
	first, second := ca.Server(t), ca.Server(t)
	publish := func(version string, p pki.Issued) {
		v := filepath.Join(dir, version)
		if err := os.Mkdir(v, 0o700); err != nil {
			t.Fatal(err)
		}
		writePair(t, v, p)
		tmp := filepath.Join(dir, "..data_tmp")
		if err := os.Symlink(version, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	publish("..v1", first)
	for _, f := range []string{"tls.crt", "tls.key"} {
		if err := os.Symlink(filepath.Join("..data", f), filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	r, err := tlsreload.New(tlsreload.Config{
		CertFile: filepath.Join(dir, "tls.crt"), KeyFile: filepath.Join(dir, "tls.key"), Interval: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, r.TLSConfig())
	if s, err := servedSerial(t, addr, ca, nil); err != nil || s.Cmp(first.Serial) != 0 {
		t.Fatalf("first serial %v (%v), want %v", s, err, first.Serial)
	}
	publish("..v2", second)
	if s, err := servedSerial(t, addr, ca, nil); err != nil || s.Cmp(second.Serial) != 0 {
		t.Fatalf("serial after the swap %v (%v), want %v", s, err, second.Serial)
	}
}

// TestBadPairKeepsOld: a certificate whose key does not match keeps the old
// pair in use, is reported once, and a later good pair is picked up.
func TestBadPairKeepsOld(t *testing.T) {
	dir := t.TempDir()
	ca := pki.NewCA(t, "ca")
	first, second, third := ca.Server(t), ca.Server(t), ca.Server(t)
	writePair(t, dir, first)
	var mu sync.Mutex
	var errs []error
	r, err := tlsreload.New(tlsreload.Config{
		CertFile: filepath.Join(dir, "tls.crt"), KeyFile: filepath.Join(dir, "tls.key"), Interval: -1,
		OnError: func(err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() },
	})
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, r.TLSConfig())
	pki.WriteFile(t, dir, "tls.crt", second.CertPEM) // the key is still first's
	for range 2 {
		if s, err := servedSerial(t, addr, ca, nil); err != nil || s.Cmp(first.Serial) != 0 {
			t.Fatalf("serial with a mismatched pair %v (%v), want the old %v", s, err, first.Serial)
		}
	}
	mu.Lock()
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "tls.crt") {
		t.Errorf("OnError calls: %v, want one naming tls.crt", errs)
	}
	mu.Unlock()
	writePair(t, dir, third)
	if s, err := servedSerial(t, addr, ca, nil); err != nil || s.Cmp(third.Serial) != 0 {
		t.Fatalf("serial after a good pair %v (%v), want %v", s, err, third.Serial)
	}
}

// TestClientCA: with a client CA, a client without a certificate is
// refused and one with a certificate from it is accepted; a rotated CA
// bundle takes effect.
func TestClientCA(t *testing.T) {
	dir := t.TempDir()
	ca, clients1, clients2 := pki.NewCA(t, "ca"), pki.NewCA(t, "clients-1"), pki.NewCA(t, "clients-2")
	writePair(t, dir, ca.Server(t))
	caFile := pki.WriteFile(t, dir, "ca.crt", clients1.PEM)
	r, err := tlsreload.New(tlsreload.Config{
		CertFile: filepath.Join(dir, "tls.crt"), KeyFile: filepath.Join(dir, "tls.key"),
		ClientCAFile: caFile, Interval: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, r.TLSConfig())
	if _, err := servedSerial(t, addr, ca, nil); err == nil {
		t.Fatal("a client without a certificate was accepted")
	}
	c1, c2 := clients1.Client(t, "a").TLS(t), clients2.Client(t, "b").TLS(t)
	if _, err := servedSerial(t, addr, ca, &c1); err != nil {
		t.Fatalf("client of the configured CA refused: %v", err)
	}
	if _, err := servedSerial(t, addr, ca, &c2); err == nil {
		t.Fatal("client of another CA accepted")
	}
	pki.WriteFile(t, dir, "ca.crt", clients2.PEM)
	if _, err := servedSerial(t, addr, ca, &c2); err != nil {
		t.Fatalf("client of the rotated CA refused: %v", err)
	}
	if _, err := servedSerial(t, addr, ca, &c1); err == nil {
		t.Fatal("client of the old CA still accepted after rotation")
	}
}

// TestInterval: files are looked at no more often than the interval.
func TestInterval(t *testing.T) {
	dir := t.TempDir()
	ca := pki.NewCA(t, "ca")
	first, second := ca.Server(t), ca.Server(t)
	writePair(t, dir, first)
	r, err := tlsreload.New(tlsreload.Config{
		CertFile: filepath.Join(dir, "tls.crt"), KeyFile: filepath.Join(dir, "tls.key"), Interval: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, r.TLSConfig())
	writePair(t, dir, second)
	if s, err := servedSerial(t, addr, ca, nil); err != nil || s.Cmp(first.Serial) != 0 {
		t.Fatalf("serial within the interval %v (%v), want the old %v", s, err, first.Serial)
	}
}

// TestNewErrors: missing or bad files fail New with an error naming them.
func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	ca := pki.NewCA(t, "ca")
	writePair(t, dir, ca.Server(t))
	cert, key := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	notPEM := pki.WriteFile(t, dir, "junk", []byte("not a certificate"))
	for _, c := range []struct {
		name string
		cfg  tlsreload.Config
		want string
	}{
		{"no key", tlsreload.Config{CertFile: cert}, "key file"},
		{"missing cert", tlsreload.Config{CertFile: filepath.Join(dir, "nope"), KeyFile: key}, "nope"},
		{"bad CA", tlsreload.Config{CertFile: cert, KeyFile: key, ClientCAFile: notPEM}, "junk"},
	} {
		if _, err := tlsreload.New(c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: New error %v, want one naming %q", c.name, err, c.want)
		}
	}
}
