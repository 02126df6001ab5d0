package supervise_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/plugintest"
	"github.com/tetherplug/tether/supervise"
	"github.com/tetherplug/tether/tethertest"
)

// newDurable starts a supervisor keeping its state in dir; it is closed at
// the end of the test unless the test closes it first.
func newDurable(t *testing.T, dir string, log *slog.Logger) (*supervise.Supervisor, *events) {
	t.Helper()
	ev := newEvents(t)
	if log == nil {
		log = quiet()
	}
	s, err := supervise.New(supervise.Config{Dir: dir, Logger: log, OnEvent: ev.on})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeSupervisor(t, s) })
	return s, ev
}

func closeSupervisor(t *testing.T, s *supervise.Supervisor) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// TestReadoptAfterClose: an instance marked to outlive its host keeps
// running when the supervisor closes, and a new supervisor with the same
// data directory adopts it without a restart: same pid, calls work (over
// its automatic mutual TLS, whose keys the state file kept). One not so
// marked is stopped.
func TestReadoptAfterClose(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first, ev := newDurable(t, dir, nil)
	keep := echoSpec(t, "keep")
	keep.OutliveHost, keep.AutoMTLS = true, true
	apply(t, first, keep, echoSpec(t, "drop"))
	pid := ev.next("keep", 10*time.Second, supervise.Ready).Pid
	reapAtEnd(t, pid)
	dropPid := ev.next("drop", 10*time.Second, supervise.Ready).Pid
	closeSupervisor(t, first)
	if !alive(pid) {
		t.Fatal("the outliving plugin died with its supervisor")
	}
	eventually(t, 5*time.Second, "the other plugin stopped", func() bool { return !alive(dropPid) })

	adoptedAt := time.Now()
	second, ev2 := newDurable(t, dir, nil)
	apply(t, second, keep, echoSpec(t, "drop"))
	if got := ev2.next("keep", 10*time.Second, supervise.Adopted, supervise.Started).Pid; got != pid {
		t.Fatalf("after the restart of the host: pid %d, want %d adopted", got, pid)
	}
	call(t, echoOf(t, second, "keep"), "adopted")
	if st := second.Status(); !st[1].Adopted || st[1].Pid != pid {
		t.Errorf("status %+v, want keep adopted with pid %d", st[1], pid)
	} else if st[1].Since.After(adoptedAt) {
		t.Errorf("adopted instance running since %v, after the new host started (%v): want the process's start", st[1].Since, adoptedAt)
	}
	// An adopted instance is supervised like the others: killed, restarted.
	kill9(t, pid)
	again := ev2.next("keep", 10*time.Second, supervise.Ready).Pid
	reapAtEnd(t, again)
	if again == pid {
		t.Fatal("not restarted")
	}
	apply(t, second) // stops it: Close would leave it running
}

// TestCorruptStateFile: a truncated state file is reported with its name
// and ignored; the supervisor starts clean.
func TestCorruptStateFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	if err := os.WriteFile(path, []byte(`{"version": 1, "instances": {"echo": {"ha`), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	s, ev := newDurable(t, dir, slog.New(slog.NewTextHandler(&logs, nil)))
	if !strings.Contains(logs.String(), "corrupt") || !strings.Contains(logs.String(), path) {
		t.Errorf("log %q: want a warning naming %s", logs.String(), path)
	}
	apply(t, s, echoSpec(t, "echo"))
	ev.next("echo", 10*time.Second, supervise.Started)
}

// TestOutputWhileNoHostIsKept: an outliving plugin keeps printing while
// no host runs (it does not die of SIGPIPE), and the host that adopts it
// reads on from where the last one stopped: the log file has every line,
// none missing.
func TestOutputWhileNoHostIsKept(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first, ev := newDurable(t, dir, nil)
	spec := echoSpec(t, "chatty", "ECHO_MODE=chatty")
	spec.OutliveHost = true
	apply(t, first, spec)
	pid := ev.next("chatty", 10*time.Second, supervise.Ready).Pid
	reapAtEnd(t, pid)
	call(t, echoOf(t, first, "chatty"), "start chattering")
	logFile := first.LogPath("chatty", "stderr")
	hasLine := func(n int) func() bool {
		return func() bool {
			b, _ := os.ReadFile(logFile)
			return bytes.Contains(b, []byte("stderr line "+strconv.Itoa(n)+"\n"))
		}
	}
	eventually(t, 5*time.Second, "line 5 in the log file", hasLine(5))
	closeSupervisor(t, first)
	time.Sleep(300 * time.Millisecond) // the plugin prints about 15 lines with no host to read them
	if !alive(pid) {
		t.Fatal("the plugin died while no host was there")
	}
	second, ev2 := newDurable(t, dir, nil)
	apply(t, second, spec)
	if got := ev2.next("chatty", 10*time.Second, supervise.Adopted, supervise.Started); got.Kind != supervise.Adopted {
		t.Fatalf("%s, want adopted", got.Kind)
	}
	b, _ := os.ReadFile(logFile)
	last := strings.Count(string(b), "\n") + 30
	eventually(t, 10*time.Second, "lines printed after the adoption in the log file", hasLine(last))
	apply(t, second)
	b, _ = os.ReadFile(logFile)
	for i := 0; i <= last; i++ {
		if !bytes.Contains(b, []byte("stderr line "+strconv.Itoa(i)+"\n")) {
			t.Fatalf("line %d of %d is missing from the log file", i, last)
		}
	}
}

// TestCallbacksReachTheAdoptingHost: after re-adoption, the plugin's
// callbacks go to the new host's services.
func TestCallbacksReachTheAdoptingHost(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	spec := func(tag string) supervise.Spec {
		return supervise.Spec{Name: "cb", Target: tethertest.Build(t, plugintest.CallbackPlugin), OutliveHost: true,
			Options: []tether.Option{tether.WithCallbacks(func(r grpc.ServiceRegistrar) {
				echov1.RegisterEchoServer(r, plugintest.TaggedEcho{Tag: tag})
			})}}
	}
	first, ev := newDurable(t, dir, nil)
	apply(t, first, spec("first"))
	pid := ev.next("cb", 10*time.Second, supervise.Ready).Pid
	reapAtEnd(t, pid)
	echo := echoOf(t, first, "cb")
	if r, err := echo.Unary(t.Context(), &echov1.Message{Text: "a"}); err != nil || r.GetText() != "plugin:first:a" {
		t.Fatalf("first host: %q, %v", r.GetText(), err)
	}
	closeSupervisor(t, first)
	second, ev2 := newDurable(t, dir, nil)
	apply(t, second, spec("second"))
	if got := ev2.next("cb", 10*time.Second, supervise.Adopted, supervise.Started); got.Kind != supervise.Adopted || got.Pid != pid {
		t.Fatalf("%s pid %d, want %d adopted", got.Kind, got.Pid, pid)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if r, err := echoOf(t, second, "cb").Unary(ctx, &echov1.Message{Text: "b"}); err != nil || r.GetText() != "plugin:second:b" {
		t.Fatalf("after adoption: %q, %v, want the new host's callback", r.GetText(), err)
	}
	apply(t, second)
}
