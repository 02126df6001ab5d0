package main

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/tetherplug/tether/internal/netguard"
	"github.com/tetherplug/tether/internal/netguard/netguardtest"
	"github.com/tetherplug/tether/network"
)

// hostTLS is the client side of the test PKI: host-1's certificate.
func hostTLS(t *testing.T, pki string) *tls.Config {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(filepath.Join(pki, "host-1.crt"), filepath.Join(pki, "host-1.key"))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := os.ReadFile(filepath.Join(pki, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	return &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// TestServeBoundsStreamsAndHeaders: tether serve advertises and enforces
// --max-streams and --max-header-bytes against a client with a valid
// certificate that ignores them: of 300 header-only calls on one
// connection at most 20 are accepted, calls with 1 MiB of headers are
// refused, and a host still calls through.
func TestServeBoundsStreamsAndHeaders(t *testing.T) {
	pki := t.TempDir()
	makePKI(t, pki)
	s := startServe(t, append([]string{echo(t), "--max-streams", "20", "--max-header-bytes", "8192"}, serveTLS(pki)...)...)
	h := netguardtest.Dial(t, s.addr, hostTLS(t, pki))
	if v, ok := h.Setting(http2.SettingMaxConcurrentStreams, 5*time.Second); !ok || v != 20 {
		t.Errorf("SETTINGS_MAX_CONCURRENT_STREAMS = %d (set: %v), want 20", v, ok)
	}
	if v, ok := h.Setting(http2.SettingMaxHeaderListSize, 5*time.Second); !ok || v != 8192 {
		t.Errorf("SETTINGS_MAX_HEADER_LIST_SIZE = %d (set: %v), want 8192", v, ok)
	}
	const n = 300
	if opened, err := h.Open(n, "/tether.echo.v1.Echo/Bidi"); err != nil {
		t.Fatalf("opened %d streams, then: %v", opened, err)
	}
	if !h.WaitResets(http2.ErrCodeRefusedStream, n-20, 10*time.Second) || !h.Sync(5*time.Second) {
		t.Fatalf("of %d header-only streams, resets %v within 10 s; want at most 20 accepted", n, h.Resets())
	}
	if refused := h.Resets()[http2.ErrCodeRefusedStream]; n-refused > 20 {
		t.Errorf("%d streams accepted on one connection, want at most 20", n-refused)
	}

	flood := netguardtest.Dial(t, s.addr, hostTLS(t, pki))
	big := make([]hpack.HeaderField, 128)
	for i := range big {
		big[i] = hpack.HeaderField{Name: "x-flood", Value: strings.Repeat("f", 8000)}
	}
	opened, _ := flood.Open(8, "/tether.echo.v1.Echo/Bidi", big...)
	if !flood.WaitResets(http2.ErrCodeFrameSize, opened, 10*time.Second) {
		select {
		case <-flood.Closed():
		default:
			t.Errorf("of %d calls with 1 MiB of headers, resets %v within 10 s and the connection kept; want all refused", opened, flood.Resets())
		}
	}

	c := openThrough(t, s, network.WithTLSFiles(filepath.Join(pki, "host-1.crt"), filepath.Join(pki, "host-1.key"), filepath.Join(pki, "ca.crt")))
	if _, ok := c.Version("echo"); !ok {
		t.Error("a host opening through serve after the floods sees no echo interface")
	}
}

// TestServeHandshakeLimits: a silent connection is closed after
// --handshake-timeout, and past --max-pending-conns the oldest silent
// connection is closed to make room, which serve logs.
func TestServeHandshakeLimits(t *testing.T) {
	s := startServe(t, echo(t), "--insecure", "--handshake-timeout", "1s", "--max-pending-conns", "4")
	conns := netguardtest.Silent(t, s.addr, 6)
	for _, c := range conns[:2] {
		netguardtest.WaitClosed(t, c, 5*time.Second)
	}
	waitLine(t, s, "closed a connection that had not finished its handshake, to make room")
	netguardtest.WaitClosed(t, conns[5], 10*time.Second) // the handshake timeout
	openThrough(t, s, network.WithInsecure())
}

// TestServeDefaultLimits: with no limit flags, serve still bounds a client
// with a valid certificate: of 1,000 header-only calls on one connection
// at most 128 are accepted.
func TestServeDefaultLimits(t *testing.T) {
	pki := t.TempDir()
	makePKI(t, pki)
	s := startServe(t, append([]string{echo(t)}, serveTLS(pki)...)...)
	h := netguardtest.Dial(t, s.addr, hostTLS(t, pki))
	const n, max = 1000, netguard.DefaultMaxStreams
	if opened, err := h.Open(n, "/tether.echo.v1.Echo/Bidi"); err != nil {
		t.Fatalf("opened %d streams, then: %v", opened, err)
	}
	if !h.WaitResets(http2.ErrCodeRefusedStream, n-max, 10*time.Second) || !h.Sync(5*time.Second) {
		t.Fatalf("of %d header-only streams, resets %v within 10 s; want at most %d accepted", n, h.Resets(), max)
	}
	if refused := h.Resets()[http2.ErrCodeRefusedStream]; n-refused > max {
		t.Errorf("%d streams accepted on one connection, want at most %d", n-refused, max)
	}
}
