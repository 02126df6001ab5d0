package tether_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/pb/tetherv1"
	"github.com/tetherplug/tether/internal/plugintest"
	"github.com/tetherplug/tether/internal/tunnel"
)

// warnings records the code of each failed callback the Relay reports.
type warnings struct {
	mu    sync.Mutex
	codes []string
}

func (w *warnings) Warn(_ string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := 0; i+1 < len(args); i += 2 {
		if args[i] == "code" {
			w.codes = append(w.codes, fmt.Sprint(args[i+1]))
		}
	}
}

func (w *warnings) list() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.codes...)
}

// sessionPlugin serves a callback plugin (plugintest.Relay over its
// HostConn) in this process and returns its HostConn and ONE connection to
// it, which the test hosts share, as hosts behind a proxy do.
func sessionPlugin(t *testing.T) (*tether.HostConn, *grpc.ClientConn, *warnings) {
	t.Helper()
	t.Cleanup(func() { goleak.VerifyNone(t) }) // first registered, so it runs last
	host := tether.NewHostConn()
	warn := &warnings{}
	relay := plugintest.Relay{Host: echov1.NewEchoClient(host), Log: warn}
	srv := tether.NewServer(tether.ServeConfig{Host: host, Logger: slog.New(slog.DiscardHandler),
		Implementations: []tether.Implementation{tether.Implement("echo", 1, func(r grpc.ServiceRegistrar) { echov1.RegisterEchoServer(r, relay) })}})
	dir, err := os.MkdirTemp("", "tether-sess-")
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("unix", filepath.Join(dir, "s.sock"))
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	cc, err := grpc.NewClient("unix://"+lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cc.Close()
		srv.Stop()
		<-served
		os.RemoveAll(dir)
	})
	return host, cc, warn
}

// testHost is one host session speaking the protocol of docs/protocol.md
// by hand: it sends its session id on each call and serves an Echo that
// answers TAG:TEXT over its tunnel.
type testHost struct {
	echov1.UnimplementedEchoServer
	tag, session string
	got          atomic.Int64 // callbacks received
	cc           *grpc.ClientConn
	cancel       context.CancelFunc
	srv          *grpc.Server
}

func (h *testHost) Unary(_ context.Context, m *echov1.Message) (*echov1.Message, error) {
	h.got.Add(1)
	return &echov1.Message{Text: h.tag + ":" + m.GetText()}, nil
}

var sessionSeq atomic.Int64

// newSession returns a fresh valid session id.
func newSession() string { return fmt.Sprintf("%032x", sessionSeq.Add(1)) }

// ctx is a context whose calls carry h's session id.
func (h *testHost) ctx(parent context.Context) context.Context {
	return metadata.AppendToOutgoingContext(parent, tether.SessionMetadataKey, h.session)
}

// openHost opens a tunnel for a new session named tag on cc and waits
// until the plugin routes the session's callbacks to it.
func openHost(t *testing.T, hc *tether.HostConn, cc *grpc.ClientConn, tag string) *testHost {
	t.Helper()
	h := &testHost{tag: tag, session: newSession()}
	sctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	stream, err := tetherv1.NewCallbacksClient(cc).Tunnel(h.ctx(sctx))
	if err != nil {
		t.Fatal(err)
	}
	lis := tunnel.NewListener()
	h.srv = grpc.NewServer()
	echov1.RegisterEchoServer(h.srv, h)
	go func() { _ = h.srv.Serve(lis) }()
	if err := lis.Put(tunnel.NewConn(stream, cancel, tunnel.Addr{Name: "host"}, tunnel.Addr{Name: "plugin"})); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.close)
	ctx, stop := context.WithTimeout(tether.WithHostSession(context.Background(), h.session), 5*time.Second)
	defer stop()
	if got := callHost(ctx, hc); got != tag+":x" {
		t.Fatalf("callback to the new session %s answered %q", tag, got)
	}
	h.got.Store(0)
	return h
}

func (h *testHost) close() { h.cancel(); h.srv.Stop() }

// callHost makes one callback from the plugin's side, as background work
// does, and returns the answer or the error's code.
func callHost(ctx context.Context, hc *tether.HostConn) string {
	m, err := echov1.NewEchoClient(hc).Unary(ctx, &echov1.Message{Text: "x"})
	if err != nil {
		return status.Code(err).String()
	}
	return m.GetText()
}

// TestCallbacksGoToTheirOwnSession: two hosts share one connection to a
// plugin (as through a proxy) and call it concurrently; every callback
// reaches the host whose call caused it.
func TestCallbacksGoToTheirOwnSession(t *testing.T) {
	hc, cc, _ := sessionPlugin(t)
	hosts := []*testHost{openHost(t, hc, cc, "A"), openHost(t, hc, cc, "B")}
	const n = 200
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for _, h := range hosts {
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				text := fmt.Sprint(i)
				m, err := echov1.NewEchoClient(cc).Unary(h.ctx(ctx), &echov1.Message{Text: text})
				if err == nil && m.GetText() != "plugin:"+h.tag+":"+text {
					err = fmt.Errorf("host %s's call %d answered %q", h.tag, i, m.GetText())
				}
				errs <- err
			}()
		}
	}
	wg.Wait()
	close(errs)
	wrong := 0
	for err := range errs {
		if err != nil {
			wrong++
			if wrong <= 5 {
				t.Error(err)
			}
		}
	}
	if wrong > 0 {
		t.Errorf("%d of %d calls were answered by the wrong host or failed", wrong, 2*n)
	}
	for _, h := range hosts {
		if got := h.got.Load(); got != n {
			t.Errorf("host %s received %d callbacks, want %d", h.tag, got, n)
		}
	}
}

// TestCallbacksThroughAProxy: two hosts, each with its own connection to a
// proxy that forwards both over one connection to the plugin, each get
// only their own callbacks.
func TestCallbacksThroughAProxy(t *testing.T) {
	hc, direct, _ := sessionPlugin(t)
	p := listenProxy(t, filepath.Join(filepath.Dir(strings.TrimPrefix(direct.Target(), "unix://")), "proxy.sock"), direct.Target())
	var hosts []*testHost
	for _, tag := range []string{"A", "B"} {
		cc, err := grpc.NewClient(p.Target(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cc.Close() })
		h := openHost(t, hc, cc, tag)
		h.cc = cc
		hosts = append(hosts, h)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const n = 100
	errs := make(chan error, 2*n)
	for _, h := range hosts {
		go func() {
			for i := range n {
				text := fmt.Sprint(i)
				m, err := echov1.NewEchoClient(h.cc).Unary(h.ctx(ctx), &echov1.Message{Text: text})
				if err == nil && m.GetText() != "plugin:"+h.tag+":"+text {
					err = fmt.Errorf("host %s's call %d answered %q", h.tag, i, m.GetText())
				}
				errs <- err
			}
		}()
	}
	for range 2 * n {
		select {
		case err := <-errs:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("calls through the proxy did not finish within 30 s")
		}
	}
	for _, h := range hosts {
		if got := h.got.Load(); got != n {
			t.Errorf("host %s received %d callbacks, want %d", h.tag, got, n)
		}
	}
}

// TestBackgroundCallbackGoesToTheNewestOpenTunnel: a callback made outside
// any RPC goes to the most recently opened tunnel still open; when that one
// closes, to the one opened before it, every time.
func TestBackgroundCallbackGoesToTheNewestOpenTunnel(t *testing.T) {
	hc, cc, _ := sessionPlugin(t)
	var hosts []*testHost
	for i := range 5 {
		hosts = append(hosts, openHost(t, hc, cc, fmt.Sprint("H", i)))
	}
	for i := len(hosts) - 1; i >= 1; i-- {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if got := callHost(ctx, hc); got != hosts[i].tag+":x" {
			t.Errorf("with %s the newest open tunnel, a background callback went to %q", hosts[i].tag, got)
		}
		cancel()
		hosts[i].close()
		gone := tether.WithHostSession(context.Background(), hosts[i].session)
		// Wait until the plugin has forgotten the tunnel: a callback to its
		// session then finds none (rather than failing on the dead tunnel).
		eventually(t, 5*time.Second, "the plugin still has the closed tunnel", func() bool {
			ctx, cancel := context.WithTimeout(gone, 20*time.Millisecond)
			defer cancel()
			_, err := echov1.NewEchoClient(hc).Unary(ctx, &echov1.Message{})
			return strings.Contains(err.Error(), "has no callback tunnel")
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if got := callHost(ctx, hc); got != "H0:x" {
		t.Errorf("with H0 the last open tunnel, a background callback went to %q", got)
	}
}

// TestTunnelWithoutSessionIsRefused: a Tunnel stream with no session id, or
// one that is not 32 lowercase hex characters, is refused with
// InvalidArgument.
func TestTunnelWithoutSessionIsRefused(t *testing.T) {
	_, cc, _ := sessionPlugin(t)
	for _, md := range [][]string{nil, {tether.SessionMetadataKey, "ABCDEF0123456789ABCDEF0123456789"},
		{tether.SessionMetadataKey, "short"}, {tether.SessionMetadataKey, newSession(), tether.SessionMetadataKey, newSession()}} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		stream, err := tetherv1.NewCallbacksClient(cc).Tunnel(metadata.AppendToOutgoingContext(ctx, md...))
		if err == nil {
			_, err = stream.Recv()
		}
		cancel()
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("Tunnel with metadata %q: %v, want InvalidArgument", md, err)
		}
	}
}

// TestCallbackForSessionWithoutTunnelNeverReachesAnother: a host session
// with no tunnel gets no other host's callbacks: its callbacks wait, then
// fail with Unavailable. A caller with no session fails at once.
func TestCallbackForSessionWithoutTunnelNeverReachesAnother(t *testing.T) {
	hc, cc, warn := sessionPlugin(t)
	other := openHost(t, hc, cc, "A")
	lonely := &testHost{tag: "B", session: newSession()}

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	start := time.Now()
	_, err := echov1.NewEchoClient(cc).Unary(lonely.ctx(ctx), &echov1.Message{Text: "x"})
	cancel()
	if err == nil {
		t.Error("a call from a session without a tunnel was answered")
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("the callback failed after %v, without waiting for the session's tunnel", d)
	}
	eventually(t, 5*time.Second, "the plugin reported no failed callback", func() bool { return len(warn.list()) > 0 })
	if got := warn.list(); got[0] != codes.Unavailable.String() {
		t.Errorf("the plugin's callback failed with %v, want Unavailable", got)
	}
	ctx, cancel = context.WithTimeout(tether.WithHostSession(context.Background(), lonely.session), 100*time.Millisecond)
	if got := callHost(ctx, hc); got != codes.Unavailable.String() {
		t.Errorf("background callback to a session without a tunnel: %s, want Unavailable", got)
	}
	cancel()

	// A caller that sent no session offers no callbacks: fail at once.
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start = time.Now()
	_, err = echov1.NewEchoClient(cc).Unary(ctx, &echov1.Message{Text: "x"})
	if status.Code(err) != codes.FailedPrecondition || time.Since(start) > time.Second {
		t.Errorf("callback inside a call without a session: %v after %v, want FailedPrecondition at once", err, time.Since(start))
	}
	if got := other.got.Load(); got != 0 {
		t.Errorf("host A received %d callbacks meant for other callers", got)
	}
}

// TestHostSession: HostSession reports what WithHostSession set, and
// nothing for a context outside any RPC.
func TestHostSession(t *testing.T) {
	id := newSession()
	if got := tether.HostSession(tether.WithHostSession(context.Background(), id)); got != id {
		t.Errorf("HostSession(WithHostSession(%s)) = %q", id, got)
	}
	if got := tether.HostSession(context.Background()); got != "" {
		t.Errorf("HostSession(Background) = %q, want empty", got)
	}
	if got := tether.HostSession(tether.WithHostSession(context.Background(), "NOT-HEX")); !strings.EqualFold(got, "") {
		t.Errorf("HostSession of an invalid id = %q, want empty", got)
	}
}

// TestEmptyHostSessionReachesNoHost: a background callback whose context
// names no session (WithHostSession with what HostSession returned outside
// any RPC) fails at once instead of reaching whichever host is newest.
func TestEmptyHostSessionReachesNoHost(t *testing.T) {
	hc, cc, _ := sessionPlugin(t)
	openHost(t, hc, cc, "H")
	ctx, cancel := context.WithTimeout(tether.WithHostSession(context.Background(), ""), 5*time.Second)
	defer cancel()
	start := time.Now()
	_, err := echov1.NewEchoClient(hc).Unary(ctx, &echov1.Message{})
	if status.Code(err) != codes.FailedPrecondition {
		t.Errorf("callback with an empty host session: %v, want FailedPrecondition", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("it took %v to fail", took)
	}
}
