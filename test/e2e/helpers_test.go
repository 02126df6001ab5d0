package e2e_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/plugintest"
	"github.com/tetherplug/tether/internal/plugintest/inproc"
	"github.com/tetherplug/tether/tethertest"
)

// TestMain removes the test plugins after the run and fails it if any
// goroutine outlives the tests: every Client must be closed without leaks.
func TestMain(m *testing.M) { tethertest.Main(m) }

// echoPath builds the echo test plugin once per test binary.
func echoPath(t testing.TB) string { return tethertest.Build(t, plugintest.EchoPlugin) }

var markSeq atomic.Int64

// echoOpts returns options that start the echo plugin in mode (empty for
// normal) and tag its process with a unique marker in its environment, so
// that noProcessLeft can find it.
func echoOpts(mode string, opts ...tether.Option) (string, []tether.Option) {
	mark := fmt.Sprintf("%d-%d", os.Getpid(), markSeq.Add(1))
	env := tether.WithEnv("ECHO_MODE="+mode, "TETHER_TEST_MARK="+mark)
	return mark, append([]tether.Option{env, tether.WithStartTimeout(20 * time.Second)}, opts...)
}

// launchEcho launches the echo plugin in mode and closes it when the test
// ends, checking that its process is gone afterwards.
func launchEcho(t *testing.T, mode string, opts ...tether.Option) *tether.Client {
	t.Helper()
	_, all := echoOpts(mode, opts...)
	c, err := tether.Launch(t.Context(), echoPath(t), all...)
	if err != nil {
		t.Fatalf("Launch(echoplugin, ECHO_MODE=%q): %v", mode, err)
	}
	pid := c.Pid()
	t.Cleanup(func() {
		_ = c.Close()
		if !reaped(pid) {
			t.Errorf("plugin process %d still exists after Close", pid)
		}
	})
	return c
}

// reaped reports whether no process pid exists any more (exited and
// waited for).
var reaped = plugintest.Reaped

// exited reports whether process pid has exited: it is gone, or a zombie
// waiting for a parent that is not this test to reap it.
var exited = plugintest.Exited

// processesMarked lists running processes whose environment carries
// TETHER_TEST_MARK=mark.
var processesMarked = plugintest.MarkedProcesses

// killProcess kills process pid (SIGKILL on Unix, TerminateProcess on
// Windows), failing the test if it cannot.
func killProcess(t *testing.T, pid int) {
	t.Helper()
	p, err := os.FindProcess(pid)
	if err == nil {
		err = p.Kill()
		_ = p.Release()
	}
	if err != nil {
		t.Fatalf("killing process %d: %v", pid, err)
	}
}

// noProcessLeft fails the test if a process tagged with mark exists.
func noProcessLeft(t *testing.T, mark string) {
	t.Helper()
	if pids := processesMarked(mark); len(pids) > 0 {
		t.Errorf("processes left behind: %v", pids)
	}
}

// record is one log record a recorder saw, with its attributes flattened
// (groups joined with dots) and the handler's own attributes included.
type record struct {
	Level slog.Level
	Msg   string
	Attrs map[string]string
}

// recorder is a slog.Handler that keeps every record.
type recorder struct {
	mu     *sync.Mutex
	recs   *[]record
	attrs  []slog.Attr
	prefix string
}

func newRecorder() (*slog.Logger, *recorder) {
	r := &recorder{mu: new(sync.Mutex), recs: new([]record)}
	return slog.New(r), r
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }

func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	out := record{Level: rec.Level, Msg: rec.Message, Attrs: map[string]string{}}
	for _, a := range r.attrs {
		flatten(out.Attrs, "", a)
	}
	rec.Attrs(func(a slog.Attr) bool { flatten(out.Attrs, r.prefix, a); return true })
	r.mu.Lock()
	*r.recs = append(*r.recs, out)
	r.mu.Unlock()
	return nil
}

func flatten(m map[string]string, prefix string, a slog.Attr) {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		for _, g := range v.Group() {
			flatten(m, prefix+a.Key+".", g)
		}
		return
	}
	m[prefix+a.Key] = v.String()
}

func (r *recorder) WithAttrs(as []slog.Attr) slog.Handler {
	c := *r
	for _, a := range as {
		c.attrs = append(slices.Clone(c.attrs), slog.Attr{Key: r.prefix + a.Key, Value: a.Value})
	}
	return &c
}

func (r *recorder) WithGroup(name string) slog.Handler {
	c := *r
	c.prefix += name + "."
	return &c
}

// records returns a copy of what was recorded so far.
func (r *recorder) records() []record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(*r.recs)
}

// find returns the first record whose message contains msg.
func (r *recorder) find(msg string) (record, bool) {
	for _, rec := range r.records() {
		if strings.Contains(rec.Msg, msg) {
			return rec, true
		}
	}
	return record{}, false
}

// eventually is plugintest.Eventually.
var eventually = plugintest.Eventually

// syncBuffer is plugintest.SyncBuffer.
type syncBuffer = plugintest.SyncBuffer

// registerStatic is inproc.Register.
var registerStatic = inproc.Register

// listenProxy is plugintest.ListenProxy.
var listenProxy = plugintest.ListenProxy
