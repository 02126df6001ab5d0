package plugintest

import (
	"context"
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
