package plugintest

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetherplug/tether/internal/pb/echov1"
)

// Eventually polls cond every 10 ms until it holds, failing the test with
// "after D: not WHAT" once d has passed.
func Eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: not %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// SyncBuffer is a strings.Builder safe for concurrent writers and readers:
// a log or output sink tests read while a plugin writes.
type SyncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TaggedEcho is a host's callback service: Unary answers "TAG:TEXT", so a
// test sees which host a plugin's callback reached.
type TaggedEcho struct {
	echov1.UnimplementedEchoServer
	Tag string
}

// Unary answers with the tag.
func (h TaggedEcho) Unary(_ context.Context, m *echov1.Message) (*echov1.Message, error) {
	return &echov1.Message{Text: h.Tag + ":" + m.GetText()}, nil
}

// ServeNetwork starts the plugin program at path as a network plugin, the
// way a deployment would (no host launching it): TETHER_LISTEN=127.0.0.1:0
// and env (later entries win, so env may set another address) in its
// environment. It returns the process and the address the plugin logged
// it listens on; the process is killed when the test ends.
func ServeNetwork(t testing.TB, path string, env ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(path)
	cmd.Env = append(os.Environ(), append([]string{"TETHER_LISTEN=127.0.0.1:0"}, env...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var rec struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "listening" {
				addr <- rec.Addr
			}
		}
	}()
	select {
	case a := <-addr:
		return cmd, a
	case <-time.After(10 * time.Second):
		t.Fatal("the plugin logged no listening address in 10s")
		return nil, ""
	}
}

// Server is what Serve runs: a *grpc.Server or a *tether.Server.
type Server interface {
	Serve(net.Listener) error
	Stop()
}

// Serve serves srv on lis until the test ends, then stops it, failing the
// test if it has not stopped within 5 s; what names it in that failure.
func Serve(t testing.TB, what string, lis net.Listener, srv Server) {
	t.Helper()
	served := make(chan struct{})
	go func() { _ = srv.Serve(lis); close(served) }()
	t.Cleanup(func() {
		srv.Stop()
		select {
		case <-served:
		case <-time.After(5 * time.Second):
			t.Errorf("%s did not stop within 5 s", what)
		}
	})
}
