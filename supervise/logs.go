package supervise

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/logrotate"
)

// LogFailEvery bounds how often an instance's failing log writes are
// reported in the supervisor's log: at most once per period, with the
// number of lines dropped since the last report.
const LogFailEvery = 10 * time.Second

// LogFailure says that an instance's output cannot be written to its log
// files (a full disk...): what it prints is dropped.
type LogFailure struct {
	Since   time.Time `json:"since"`   // the first failed write since the last that worked
	Dropped int64     `json:"dropped"` // lines lost since
	Err     string    `json:"error"`   // the last write error
}

// instanceLogs are one instance's log files: what its processes print on
// stdout and stderr, as printed, in size-capped rotated files (LogPath).
type instanceLogs struct {
	stdout, stderr io.WriteCloser
	health         *logHealth
}

// logWriterHook, if set, opens the log writers instead of logrotate: a
// test seam, for writers that fail. A nil writer means logrotate's.
var logWriterHook atomic.Pointer[func(path string) io.WriteCloser]

func newLogWriter(s *Supervisor, path string) (io.WriteCloser, error) {
	if hook := logWriterHook.Load(); hook != nil {
		if w := (*hook)(path); w != nil {
			return w, nil
		}
	}
	return logrotate.New(path, s.cfg.LogMaxBytes, s.cfg.LogKeep)
}

func openLogs(s *Supervisor, name string) (*instanceLogs, error) {
	out, err := newLogWriter(s, s.LogPath(name, "stdout"))
	if err != nil {
		return nil, err
	}
	errw, err := newLogWriter(s, s.LogPath(name, "stderr"))
	if err != nil {
		_ = out.Close()
		return nil, err
	}
	h := &logHealth{name: name, log: s.log}
	return &instanceLogs{stdout: checkedWriter{out, h}, stderr: checkedWriter{errw, h}, health: h}, nil
}

// options send a start's output to the files; none without files.
func (l *instanceLogs) options() []tether.Option {
	if l == nil {
		return nil
	}
	return []tether.Option{tether.WithStdout(l.stdout), tether.WithStderr(l.stderr)}
}

// failure is how the log writes fail, nil while they work.
func (l *instanceLogs) failure() *LogFailure {
	if l == nil {
		return nil
	}
	return l.health.failure()
}

func (l *instanceLogs) close() {
	if l != nil {
		_ = errors.Join(l.stdout.Close(), l.stderr.Close())
	}
}

// checkedWriter writes to a log file, accounting for failed writes in h
// instead of returning them: the plugin's output goes on being forwarded,
// and is written again once the file takes it.
type checkedWriter struct {
	w io.WriteCloser
	h *logHealth
}

func (c checkedWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.h.wrote(p[n:], err)
	return len(p), nil
}

func (c checkedWriter) Close() error { return c.w.Close() }

// logHealth follows an instance's log writes and reports their failures.
type logHealth struct {
	name string
	log  *slog.Logger

	mu         sync.Mutex
	failing    *LogFailure // nil while writes work
	reported   time.Time   // when failures were last logged
	unreported int64       // lines dropped since
}

// wrote accounts for a write whose unwritten part is lost and err says why
// (nil: it worked).
func (h *logHealth) wrote(lost []byte, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err == nil {
		if h.failing != nil {
			h.log.Warn("plugin log writes work again", "instance", h.name, "dropped_lines", h.failing.Dropped,
				"failing_since", h.failing.Since)
			h.failing, h.unreported = nil, 0
		}
		return
	}
	lines := max(int64(bytes.Count(lost, []byte("\n"))), 1)
	now := time.Now()
	if h.failing == nil {
		h.failing = &LogFailure{Since: now}
	}
	h.failing.Dropped += lines
	h.failing.Err = err.Error()
	h.unreported += lines
	if now.Sub(h.reported) >= LogFailEvery {
		h.log.Error("plugin output dropped: its log file cannot be written", "instance", h.name,
			"dropped_lines", h.unreported, "failing_since", h.failing.Since, "err", err)
		h.reported, h.unreported = now, 0
	}
}

func (h *logHealth) failure() *LogFailure {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.failing == nil {
		return nil
	}
	f := *h.failing
	return &f
}
