// Package logfwd turns the lines a plugin writes on stderr back into log
// records of the host's *slog.Logger.
//
// A JSON line written by log/slog's JSONHandler (keys "level", "msg", "time")
// or by hclog's JSON format, as go-plugin plugins write ("@level",
// "@message", "@timestamp", "@module"), keeps its level, message and
// attributes. Any other line is logged at debug, except that a Go panic or
// fatal error ("panic: ", "fatal error: ") and every line after it are logged
// at error, so a crash's stack trace is never hidden below the host's level.
package logfwd

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
)

// Forwarder re-levels lines into a logger and remembers the last few for
// error messages. It is safe for concurrent use.
type Forwarder struct {
	log *slog.Logger

	mu        sync.Mutex
	panicking bool
	tail      []string
	tailMax   int
	pinned    int // index in tail of the line that started a panic, or -1
}

// New returns a Forwarder logging into log (which should already carry the
// plugin's name) and remembering the last tailLines lines. The line that
// starts a panic is remembered however long the stack trace after it.
func New(log *slog.Logger, tailLines int) *Forwarder {
	return &Forwarder{log: log, tailMax: tailLines, pinned: -1}
}

// Record is one parsed line.
type Record struct {
	Level   slog.Level
	Message string
	Attrs   []slog.Attr
}

// Line forwards one line (without its newline).
func (f *Forwarder) Line(line string) {
	line = strings.TrimRight(line, "\r\n")
	if strings.TrimSpace(line) == "" {
		return
	}
	f.mu.Lock()
	starts := !f.panicking && (strings.HasPrefix(line, "panic: ") || strings.HasPrefix(line, "fatal error: "))
	if starts {
		f.panicking = true
	}
	panicking := f.panicking
	f.remember(line, starts)
	f.mu.Unlock()

	rec := Parse(line)
	if panicking {
		rec = Record{Level: slog.LevelError, Message: line}
	}
	f.log.LogAttrs(context.Background(), rec.Level, rec.Message, rec.Attrs...)
}

// remember adds line to the tail, evicting the oldest line other than the
// one that started a panic.
func (f *Forwarder) remember(line string, pin bool) {
	if f.tailMax <= 0 {
		return
	}
	if len(f.tail) == f.tailMax {
		evict := 0
		if f.pinned == 0 && len(f.tail) > 1 {
			evict = 1
		}
		f.tail = slices.Delete(f.tail, evict, evict+1)
		if f.pinned > evict {
			f.pinned--
		} else if f.pinned == evict {
			f.pinned = -1
		}
	}
	f.tail = append(f.tail, line)
	if pin {
		f.pinned = len(f.tail) - 1
	}
}

// Tail returns the last lines seen, oldest first, joined by newlines.
func (f *Forwarder) Tail() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.tail, "\n")
}

// Parse reads one line as a structured log record if it is one, and as a
// plain debug message otherwise.
func Parse(line string) Record {
	plain := Record{Level: slog.LevelDebug, Message: line}
	trimmed := strings.TrimSpace(line)
	if !strings.HasPrefix(trimmed, "{") {
		return plain
	}
	var fields map[string]any
	dec := json.NewDecoder(strings.NewReader(trimmed))
	dec.UseNumber()
	if err := dec.Decode(&fields); err != nil {
		return plain
	}
	if _, err := dec.Token(); err != io.EOF {
		return plain // more after the object: not one JSON record
	}
	rec := Record{Level: slog.LevelInfo}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := fields[k]
		switch k {
		case "level", "@level":
			if s, ok := v.(string); ok {
				rec.Level = ParseLevel(s)
				continue
			}
		case "msg", "@message":
			if s, ok := v.(string); ok {
				rec.Message = s
				continue
			}
		case "time", "@timestamp":
			continue // the host stamps its own time
		case "@module":
			k = "module"
		}
		rec.Attrs = append(rec.Attrs, attr(k, v))
	}
	return rec
}

// ParseLevel reads slog ("DEBUG", "WARN+2") and hclog ("trace", "warn")
// level names; unknown names are info.
func ParseLevel(s string) slog.Level {
	switch strings.ToLower(s) {
	case "trace":
		return slog.LevelDebug - 4
	case "debug":
		return slog.LevelDebug
	case "info":
		return slog.LevelInfo
	case "warn", "warning":
		return slog.LevelWarn
	case "error", "fatal", "panic":
		return slog.LevelError
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err == nil {
		return l
	}
	return slog.LevelInfo
}

func attr(k string, v any) slog.Attr {
	switch v := v.(type) {
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return slog.Int64(k, i)
		}
		if f, err := v.Float64(); err == nil {
			return slog.Float64(k, f)
		}
		return slog.String(k, v.String())
	case map[string]any:
		keys := make([]string, 0, len(v))
		for kk := range v {
			keys = append(keys, kk)
		}
		slices.Sort(keys)
		attrs := make([]any, 0, len(keys))
		for _, kk := range keys {
			attrs = append(attrs, attr(kk, v[kk]))
		}
		return slog.Group(k, attrs...)
	case []any:
		var b bytes.Buffer
		_ = json.NewEncoder(&b).Encode(v)
		return slog.String(k, strings.TrimSpace(b.String()))
	default:
		return slog.Any(k, v)
	}
}
