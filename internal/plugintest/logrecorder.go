package plugintest

import (
	"context"
	"log/slog"
	"slices"
	"sync"
)

// LogRecord is one record a LogRecorder received, its attributes (those
// of With included) as strings.
type LogRecord struct {
	Level slog.Level
	Msg   string
	Attrs map[string]string
}

// LogRecorder is a slog.Handler that keeps every record, for tests of what
// reaches a host's logger.
type LogRecorder struct {
	mu    *sync.Mutex
	recs  *[]LogRecord
	attrs []slog.Attr
}

// NewLogRecorder returns a logger whose records the returned recorder keeps.
func NewLogRecorder() (*slog.Logger, LogRecorder) {
	r := LogRecorder{mu: &sync.Mutex{}, recs: &[]LogRecord{}}
	return slog.New(r), r
}

// Enabled is true at every level.
func (LogRecorder) Enabled(context.Context, slog.Level) bool { return true }

// Handle keeps rec.
func (r LogRecorder) Handle(_ context.Context, rec slog.Record) error {
	m := map[string]string{}
	for _, a := range r.attrs {
		m[a.Key] = a.Value.String()
	}
	rec.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.String(); return true })
	r.mu.Lock()
	*r.recs = append(*r.recs, LogRecord{rec.Level, rec.Message, m})
	r.mu.Unlock()
	return nil
}

// WithAttrs returns a recorder into the same records that adds as.
func (r LogRecorder) WithAttrs(as []slog.Attr) slog.Handler {
	r.attrs = append(slices.Clone(r.attrs), as...)
	return r
}

// WithGroup ignores groups: attributes keep their own keys.
func (r LogRecorder) WithGroup(string) slog.Handler { return r }

// All returns the records received so far.
func (r LogRecorder) All() []LogRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(*r.recs)
}

// Find returns the first record with message msg.
func (r LogRecorder) Find(msg string) (LogRecord, bool) {
	for _, rec := range r.All() {
		if rec.Msg == msg {
			return rec, true
		}
	}
	return LogRecord{}, false
}
