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
	tailMax   int
	before    []string // the last lines before a panic, at most tailMax
	panic     []string // the panic's first line and those after it, at most tailMax
}

// New returns a Forwarder logging into log (which should already carry the
// plugin's name) and remembering tailLines lines for Tail: the last ones,
// or, once a panic started, the panic's first lines and then as many of the
// last lines before it as fit.
func New(log *slog.Logger, tailLines int) *Forwarder {
	return &Forwarder{log: log, tailMax: tailLines}
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
	f.remember(line)
	f.mu.Unlock()

	rec := Parse(line)
	if panicking {
		rec = Record{Level: slog.LevelError, Message: line}
	}
	f.log.LogAttrs(context.Background(), rec.Level, rec.Message, rec.Attrs...)
}

// remember keeps line for Tail. Before a panic the tail holds the last
// lines; from the panic on, its first lines are kept (the panic message and
// the top of the crashing goroutine's stack matter most) and later ones are
// dropped once the tail is full of them.
func (f *Forwarder) remember(line string) {
	if f.tailMax <= 0 {
		return
	}
	if f.panicking {
		if len(f.panic) < f.tailMax {
			f.panic = append(f.panic, line)
		}
		return
	}
	if len(f.before) == f.tailMax {
		f.before = slices.Delete(f.before, 0, 1)
	}
	f.before = append(f.before, line)
}

// Tail returns the lines remembered, joined by newlines: the last lines
// seen, oldest first, or, after a panic, the panic's first line and the
// lines that followed it, then the last lines before the panic that fit in
// the tail (at least a fifth of it when there were any).
func (f *Forwarder) Tail() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	// A long trace leaves a fifth of the tail to the lines before the
	// panic: they often say what the plugin was doing.
	reserve := min(len(f.before), f.tailMax/5)
	panicked := f.panic[:min(len(f.panic), f.tailMax-reserve)]
	room := f.tailMax - len(panicked)
	lines := append(slices.Clone(panicked), f.before[max(0, len(f.before)-room):]...)
	return strings.Join(lines, "\n")
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
