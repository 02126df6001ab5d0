//go:build linux

package supervise_test

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tetherplug/tether/supervise"
)

// TestLogWritesFailingAreReported: when every write to an instance's log
// files fails (a full disk: /dev/full answers each write with ENOSPC),
// the plugin's output is not dropped without a word: the supervisor's log
// says so, at most once per LogFailEvery with the count of lines dropped,
// and Status reports since when and how many lines.
func TestLogWritesFailingAreReported(t *testing.T) {
	dir := t.TempDir()
	var healed atomic.Bool
	remove := supervise.SetLogWriter(func(path string) io.WriteCloser {
		if !strings.HasPrefix(path, dir) {
			return nil
		}
		full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
		if err != nil {
			t.Error(err)
			return nil
		}
		ok, err := os.Create(path)
		if err != nil {
			t.Error(err)
			return nil
		}
		return &healing{full: full, ok: ok, healed: &healed}
	})
	defer remove()
	var logs syncBuffer
	s, ev := newDurable(t, dir, slog.New(slog.NewTextHandler(&logs, nil)))
	began := time.Now()
	apply(t, s, echoSpec(t, "chatty", "ECHO_MODE=chatty"))
	ev.next("chatty", 10*time.Second, supervise.Ready)
	call(t, echoOf(t, s, "chatty"), "talk") // it prints two lines every 20 ms from now on
	var f *supervise.LogFailure
	eventually(t, 5*time.Second, "the status reporting 20 lines dropped", func() bool {
		f = s.Status()[0].LogFailure
		return f != nil && f.Dropped >= 20
	})
	if !strings.Contains(f.Err, "no space left on device") || f.Since.Before(began) || time.Since(f.Since) > 10*time.Second {
		t.Errorf("log failure %+v: want ENOSPC since this test's start", f)
	}
	const msg = "plugin output dropped: its log file cannot be written"
	if time.Since(f.Since) < supervise.LogFailEvery {
		if n := strings.Count(logs.String(), msg); n != 1 {
			t.Errorf("%d records %q within %v of the first failure, want 1 (rate-limited); log:\n%s",
				n, msg, supervise.LogFailEvery, logs.String())
		}
	}
	if !strings.Contains(logs.String(), "instance=chatty dropped_lines=") {
		t.Errorf("the record does not name the instance and the lines dropped; log:\n%s", logs.String())
	}
	// Space again: said once, and the status is clear.
	healed.Store(true)
	eventually(t, 5*time.Second, "the status clear again", func() bool { return s.Status()[0].LogFailure == nil })
	if !strings.Contains(logs.String(), "plugin log writes work again") {
		t.Errorf("no record that log writes work again; log:\n%s", logs.String())
	}
}

// healing writes to /dev/full (every write fails with ENOSPC) until healed,
// then to a file.
type healing struct {
	full, ok *os.File
	healed   *atomic.Bool
}

func (h *healing) Write(p []byte) (int, error) {
	if h.healed.Load() {
		return h.ok.Write(p)
	}
	return h.full.Write(p)
}

func (h *healing) Close() error { return errors.Join(h.full.Close(), h.ok.Close()) }
