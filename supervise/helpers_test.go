package supervise_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/plugintest"
	"github.com/tetherplug/tether/internal/proc"
	"github.com/tetherplug/tether/supervise"
	"github.com/tetherplug/tether/tethertest"
)

func TestMain(m *testing.M) { tethertest.Main(m) }

// events collects a supervisor's events for a test; each instance's
// events are read in order, apart from the others'.
type events struct {
	t      *testing.T
	mu     sync.Mutex
	all    []supervise.Event
	cursor map[string]int // per instance: index in all of the next event to look at
	added  chan struct{}  // closed and replaced on each event
}

func newEvents(t *testing.T) *events {
	return &events{t: t, cursor: map[string]int{}, added: make(chan struct{})}
}

func (e *events) on(ev supervise.Event) {
	e.mu.Lock()
	e.all = append(e.all, ev)
	close(e.added)
	e.added = make(chan struct{})
	e.mu.Unlock()
}

// take returns the next event of name of one of kinds, if one came,
// skipping that instance's events of other kinds.
func (e *events) take(name string, kinds []supervise.EventKind) (supervise.Event, bool, <-chan struct{}) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := e.cursor[name]; i < len(e.all); i++ {
		if ev := e.all[i]; ev.Instance == name {
			e.cursor[name] = i + 1
			if slices.Contains(kinds, ev.Kind) {
				return ev, true, nil
			}
		}
	}
	e.cursor[name] = len(e.all)
	return supervise.Event{}, false, e.added
}

// next waits for the next event of instance name of one of kinds, failing
// the test after d; the instance's events of other kinds are skipped.
func (e *events) next(name string, d time.Duration, kinds ...supervise.EventKind) supervise.Event {
	e.t.Helper()
	deadline := time.After(d)
	for {
		ev, ok, added := e.take(name, kinds)
		if ok {
			return ev
		}
		select {
		case <-added:
		case <-deadline:
			e.t.Fatalf("no %v event of %s within %v", kinds, name, d)
		}
	}
}

// none checks that no event of kinds comes for name within d.
func (e *events) none(name string, d time.Duration, kinds ...supervise.EventKind) {
	e.t.Helper()
	deadline := time.After(d)
	for {
		ev, ok, added := e.take(name, kinds)
		if ok {
			e.t.Fatalf("unexpected %s event of %s: %+v", ev.Kind, name, ev)
		}
		select {
		case <-added:
		case <-deadline:
			return
		}
	}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newSupervisor starts a supervisor closed at the end of the test.
func newSupervisor(t *testing.T) (*supervise.Supervisor, *events) {
	ev := newEvents(t)
	s, err := supervise.New(supervise.Config{Logger: quiet(), OnEvent: ev.on, QuietPeriod: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s, ev
}

// echoSpec is a spec of the echo test plugin with fast restarts.
func echoSpec(t *testing.T, name string, env ...string) supervise.Spec {
	return supervise.Spec{Name: name, Target: tethertest.Build(t, plugintest.EchoPlugin), Env: env,
		Interfaces: []tether.Want{{Interface: "echo", Versions: []int{1}}},
		Backoff:    supervise.Backoff{Initial: 50 * time.Millisecond, Max: time.Second}}
}

func apply(t *testing.T, s *supervise.Supervisor, specs ...supervise.Spec) {
	t.Helper()
	if err := s.Apply(t.Context(), specs); err != nil {
		t.Fatal(err)
	}
}

func echoOf(t *testing.T, s *supervise.Supervisor, name string) echov1.EchoClient {
	t.Helper()
	conn, err := s.Conn(name)
	if err != nil {
		t.Fatal(err)
	}
	return echov1.NewEchoClient(conn)
}

func call(t *testing.T, echo echov1.EchoClient, text string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	resp, err := echo.Unary(ctx, &echov1.Message{Text: text})
	if err != nil || resp.GetText() != text {
		t.Fatalf("call %q = %q, %v", text, resp.GetText(), err)
	}
}

// alive reports whether pid is a live process (signal 0 sends nothing).
func alive(pid int) bool { return !plugintest.Reaped(pid) }

func kill9(t *testing.T, pid int) {
	t.Helper()
	p, err := os.FindProcess(pid)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Kill(); err != nil { // SIGKILL; TerminateProcess on Windows
		t.Fatal(err)
	}
}

// reapAtEnd kills pid when the test ends if it still runs as the same
// process: an outliving plugin a failed test left behind.
func reapAtEnd(t *testing.T, pid int) {
	start, err := proc.StartTime(pid)
	if err != nil {
		return
	}
	t.Cleanup(func() {
		if now, err := proc.StartTime(pid); err == nil && now == start {
			_ = plugintest.Kill(pid)
		}
	})
}

// syncBuffer is plugintest.SyncBuffer.
type syncBuffer = plugintest.SyncBuffer

// eventually is plugintest.Eventually.
var eventually = plugintest.Eventually
