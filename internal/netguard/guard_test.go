package netguard

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"

	"github.com/tetherplug/tether/internal/netguard/netguardtest"
	"github.com/tetherplug/tether/internal/plugintest"
)

// served is a health server behind a guard on a loopback port.
type served struct {
	g    *Guard
	addr string
	log  *plugintest.SyncBuffer
}

// serve serves grpc-go's health service (plaintext) behind a guard with l.
func serve(t *testing.T, l Limits) *served {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &served{addr: lis.Addr().String(), log: &plugintest.SyncBuffer{}}
	s.g = New(l, slog.New(slog.NewJSONHandler(s.log, nil)))
	srv := grpc.NewServer(s.g.ServerOptions(insecure.NewCredentials(), keepalive.ServerParameters{})...)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	done := make(chan struct{})
	go func() { _ = srv.Serve(s.g.Listener(lis)); close(done) }()
	t.Cleanup(func() {
		srv.Stop()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("the server did not stop within 5 s")
		}
	})
	return s
}

// check makes a health call on a new connection, which stays open until
// the test ends, and returns its error.
func (s *served) check(t *testing.T) error {
	t.Helper()
	cc, err := grpc.NewClient(s.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_, err = healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{})
	return err
}

// TestPendingCapClosesOldest: over MaxPending connections in their
// handshake, each new one closes the oldest, and a real client still gets
// through.
func TestPendingCapClosesOldest(t *testing.T) {
	s := serve(t, Limits{MaxPending: 4})
	conns := netguardtest.Silent(t, s.addr, 10)
	for _, c := range conns[:6] {
		netguardtest.WaitClosed(t, c, 5*time.Second)
	}
	if err := s.check(t); err != nil {
		t.Fatalf("a call after 10 silent connections: %v", err)
	}
	// The client took the place of one more silent connection.
	plugintest.Eventually(t, 5*time.Second, "3 pending of 4 connections", func() bool {
		total, pending := s.g.counts()
		return total == 4 && pending == 3
	})
	msg := "closed a connection that had not finished its handshake, to make room"
	plugintest.Eventually(t, 5*time.Second, "logged "+msg, func() bool { return strings.Contains(s.log.String(), msg) })
}

// TestConnectionCaps: past the per-peer and the total cap, with no pending
// connection to close instead, a new connection is closed at once and the
// refusal logged; a place given back is taken again.
func TestConnectionCaps(t *testing.T) {
	for _, c := range []struct {
		name string
		l    Limits
		msg  string
	}{
		{"per peer", Limits{MaxConnsPerPeer: 3}, "refused a connection: too many from its address"},
		{"in all", Limits{MaxConns: 3}, "refused a connection: too many connections"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := serve(t, c.l)
			var first *grpc.ClientConn
			for i := range 3 {
				cc, err := grpc.NewClient(s.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = cc.Close() })
				if _, err := healthpb.NewHealthClient(cc).Check(t.Context(), &healthpb.HealthCheckRequest{}); err != nil {
					t.Fatalf("call on connection %d of 3: %v", i+1, err)
				}
				if first == nil {
					first = cc
				}
			}
			extra := netguardtest.Silent(t, s.addr, 1)[0]
			netguardtest.WaitClosed(t, extra, 5*time.Second)
			plugintest.Eventually(t, 5*time.Second, "logged "+c.msg, func() bool { return strings.Contains(s.log.String(), c.msg) })
			_ = first.Close()
			plugintest.Eventually(t, 5*time.Second, "2 connections left", func() bool { total, _ := s.g.counts(); return total == 2 })
			if err := s.check(t); err != nil {
				t.Errorf("a call once a place is free: %v", err)
			}
		})
	}
}

// TestRateLog: a message is logged at once, then not again for 10 s, and
// the next line counts those left out.
func TestRateLog(t *testing.T) {
	var out plugintest.SyncBuffer
	r := newRateLog(slog.New(slog.NewTextHandler(&out, nil)))
	now := time.Unix(1000, 0)
	r.now = func() time.Time { return now }
	for range 5 {
		r.log(slog.LevelError, "accepting failed", "error", "EMFILE")
	}
	r.log(slog.LevelWarn, "another message")
	now = now.Add(logInterval)
	r.log(slog.LevelError, "accepting failed", "error", "EMFILE")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || strings.Contains(lines[0], "suppressed") || !strings.Contains(lines[2], "suppressed=4") {
		t.Errorf("log lines:\n%s\nwant 3: the first, the other message, then one with suppressed=4", out.String())
	}
}

// TestFromEnv: variables set limits; unset ones keep their defaults; a
// bad value is a *SettingError naming the variable.
func TestFromEnv(t *testing.T) {
	env := map[string]string{EnvMaxStreams: "7", EnvHandshakeTimeout: "250ms", EnvMaxConnsPerPeer: "2"}
	l, err := FromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	want := Defaults()
	want.MaxStreams, want.HandshakeTimeout, want.MaxConnsPerPeer = 7, 250*time.Millisecond, 2
	if l != want {
		t.Errorf("FromEnv = %+v, want %+v", l, want)
	}
	for _, bad := range []map[string]string{{EnvMaxConns: "-1"}, {EnvMaxPending: "0"}, {EnvMaxHeaderBytes: "1e6"}, {EnvHandshakeTimeout: "-1s"}} {
		_, err := FromEnv(func(k string) (string, bool) { v, ok := bad[k]; return v, ok })
		var se *SettingError
		if !errors.As(err, &se) || bad[se.Name] == "" || !strings.Contains(err.Error(), se.Name) {
			t.Errorf("FromEnv(%v) = %v, want a *SettingError naming the variable", bad, err)
		}
	}
}

// TestAcceptFailureLogged: a failed accept is logged with its error and
// returned; the listener's close, the way a server stops, is not logged.
func TestAcceptFailureLogged(t *testing.T) {
	var out plugintest.SyncBuffer
	g := New(Limits{}, slog.New(slog.NewTextHandler(&out, nil)))
	failing := g.Listener(failingListener{err: errors.New("accept: too many open files")})
	if _, err := failing.Accept(); err == nil || !strings.Contains(out.String(), "accepting a connection failed") ||
		!strings.Contains(out.String(), "too many open files") {
		t.Errorf("Accept = %v, log %q; want the error returned and logged", err, out.String())
	}
	var quiet plugintest.SyncBuffer // a guard of its own: the first line would rate-limit this one
	closed := New(Limits{}, slog.New(slog.NewTextHandler(&quiet, nil))).Listener(failingListener{err: net.ErrClosed})
	if _, err := closed.Accept(); !errors.Is(err, net.ErrClosed) || quiet.String() != "" {
		t.Errorf("Accept on a closed listener = %v, log %q; want net.ErrClosed and nothing logged", err, quiet.String())
	}
}

// failingListener fails every Accept with err.
type failingListener struct {
	net.Listener
	err error
}

func (f failingListener) Accept() (net.Conn, error) { return nil, f.err }

// TestDefaultMaxConnsFollowsDescriptors: the default leaves 64 descriptors
// for other files, and is never below 16 or above 1,024.
func TestDefaultMaxConnsFollowsDescriptors(t *testing.T) {
	for _, c := range []struct {
		fds  uint64
		ok   bool
		want int
	}{{20000, true, 1024}, {1088, true, 1024}, {1024, true, 960}, {128, true, 64}, {48, true, 16}, {0, false, 1024}, {^uint64(0), true, 1024}} {
		if got := maxConnsFor(c.fds, c.ok); got != c.want {
			t.Errorf("maxConnsFor(%d, %v) = %d, want %d", c.fds, c.ok, got, c.want)
		}
	}
}

// TestHeaderLimit: headers over MaxHeaderBytes are refused: the call
// alone (FRAME_SIZE_ERROR) when its header block came in one frame, the
// connection when more frames follow or one field is longer than the
// limit; headers within it reach the server.
func TestHeaderLimit(t *testing.T) {
	s := serve(t, Limits{})
	const check = "/grpc.health.v1.Health/Check"
	// 24 KiB of "a" take 15 KiB in Huffman code: one HEADERS frame.
	h := netguardtest.Dial(t, s.addr, nil)
	a := hpack.HeaderField{Name: "x-big", Value: strings.Repeat("a", 6<<10)}
	if _, err := h.Open(1, check, a, a, a, a); err != nil {
		t.Fatal(err)
	}
	if !h.WaitResets(http2.ErrCodeFrameSize, 1, 5*time.Second) {
		t.Errorf("24 KiB of headers in one frame: resets %v, closed %v; want FRAME_SIZE_ERROR", h.Resets(), h.CloseErr())
	}
	if err := s.check(t); err != nil {
		t.Errorf("a call within the limit: %v", err)
	}
	for name, fields := range map[string][]hpack.HeaderField{
		"24 KiB in 2 frames": {{Name: "x-big", Value: strings.Repeat("0123456789+/=-_~", 1536)}},
		"one 32 KiB field":   {{Name: "x-big", Value: strings.Repeat("b", 32<<10)}},
	} {
		c := netguardtest.Dial(t, s.addr, nil)
		if _, err := c.Open(1, check, fields...); err != nil {
			t.Fatal(err)
		}
		select {
		case <-c.Closed():
		case <-time.After(5 * time.Second):
			t.Errorf("%s: resets %v and the connection kept; want it closed", name, c.Resets())
		}
	}
}
