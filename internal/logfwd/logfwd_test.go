package logfwd_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tetherplug/tether/internal/logfwd"
)

// Real lines, as plugins print them.
const (
	slogLine  = `{"time":"2026-11-22T03:00:00.123456789Z","level":"WARN","msg":"disk almost full","path":"/var","free":1024,"ratio":0.05,"ok":false,"req":{"id":"r1","n":2}}`
	hclogLine = `{"@level":"debug","@message":"plugin started","@module":"greeter","@timestamp":"2026-11-22T03:00:00.000000Z","pid":4242}`
	panicLine = "panic: runtime error: index out of range [3] with length 3"
)

func TestParse(t *testing.T) {
	cases := []struct {
		name  string
		line  string
		level slog.Level
		msg   string
		attrs map[string]string // flattened attributes
	}{
		{"slog JSON", slogLine, slog.LevelWarn, "disk almost full",
			map[string]string{"path": "/var", "free": "1024", "ratio": "0.05", "ok": "false", "req.id": "r1", "req.n": "2"}},
		{"hclog JSON", hclogLine, slog.LevelDebug, "plugin started",
			map[string]string{"module": "greeter", "pid": "4242"}},
		{"slog custom level", `{"level":"ERROR+2","msg":"worse"}`, slog.LevelError + 2, "worse", map[string]string{}},
		{"hclog trace", `{"@level":"trace","@message":"fine detail"}`, slog.LevelDebug - 4, "fine detail", map[string]string{}},
		{"hclog warning", `{"@level":"warning","@message":"w"}`, slog.LevelWarn, "w", map[string]string{}},
		{"no level", `{"msg":"hi"}`, slog.LevelInfo, "hi", map[string]string{}},
		{"array attribute", `{"msg":"a","list":[1,"x"]}`, slog.LevelInfo, "a", map[string]string{"list": `[1,"x"]`}},
		{"plain", "listening on /tmp/x.sock", slog.LevelDebug, "listening on /tmp/x.sock", map[string]string{}},
		{"go-plugin text", "2026-11-22T03:00:00.000Z [INFO]  plugin: starting", slog.LevelDebug,
			"2026-11-22T03:00:00.000Z [INFO]  plugin: starting", map[string]string{}},
		{"broken JSON", `{"msg": "unterminated`, slog.LevelDebug, `{"msg": "unterminated`, map[string]string{}},
		{"JSON then more", `{"msg":"a"} trailing`, slog.LevelDebug, `{"msg":"a"} trailing`, map[string]string{}},
		{"JSON then brace", `{"msg":"a"}}`, slog.LevelDebug, `{"msg":"a"}}`, map[string]string{}},
		{"JSON array", `[1,2]`, slog.LevelDebug, `[1,2]`, map[string]string{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := logfwd.Parse(tc.line)
			if r.Level != tc.level || r.Message != tc.msg {
				t.Errorf("Parse = level %v message %q, want %v %q", r.Level, r.Message, tc.level, tc.msg)
			}
			if got := flatten(r.Attrs); !equalMaps(got, tc.attrs) {
				t.Errorf("attributes = %v, want %v", got, tc.attrs)
			}
		})
	}
}

// TestParseSlogOutput feeds Parse what log/slog's own JSONHandler writes.
func TestParseSlogOutput(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug - 8}))
	l.With("component", "cache").WithGroup("g").Log(context.Background(), slog.LevelDebug-4, "evicted", "key", "k1", "size", 3, "age", 1500*time.Millisecond)
	r := logfwd.Parse(strings.TrimSpace(buf.String()))
	want := map[string]string{"component": "cache", "g.key": "k1", "g.size": "3", "g.age": "1500000000"}
	if r.Level != slog.LevelDebug-4 || r.Message != "evicted" || !equalMaps(flatten(r.Attrs), want) {
		t.Errorf("Parse(%s) = %v %q %v", buf.String(), r.Level, r.Message, flatten(r.Attrs))
	}
}

func TestForwarder(t *testing.T) {
	log, rec := newRecorder()
	f := logfwd.New(log.With("plugin", "p"), 5)
	f.Line(slogLine + "\n")
	f.Line("plain\r\n")
	f.Line("   ")
	if got := rec.all(); len(got) != 2 {
		t.Fatalf("got %d records, want 2 (blank lines dropped): %+v", len(got), got)
	}
	r := rec.all()[0]
	if r.level != slog.LevelWarn || r.msg != "disk almost full" || r.attrs["plugin"] != "p" || r.attrs["path"] != "/var" {
		t.Errorf("JSON line forwarded as %+v", r)
	}
	if r := rec.all()[1]; r.level != slog.LevelDebug || r.msg != "plain" || r.attrs["plugin"] != "p" {
		t.Errorf("plain line forwarded as %+v", r)
	}
	if got := f.Tail(); got != slogLine+"\nplain" {
		t.Errorf("Tail() = %q", got)
	}
}

// TestForwarderPanic: a panic and everything after it is logged at error,
// and the tail keeps the panic's first lines however long the trace.
func TestForwarderPanic(t *testing.T) {
	log, rec := newRecorder()
	f := logfwd.New(log, 4)
	f.Line("before")
	f.Line(panicLine)
	f.Line("")
	f.Line("goroutine 1 [running]:")
	for i := range 10 {
		f.Line(fmt.Sprintf("main.f%d()", i))
	}
	f.Line(`{"level":"DEBUG","msg":"json after the panic"}`)
	all := rec.all()
	if all[0].level != slog.LevelDebug {
		t.Errorf("line before the panic at %v", all[0].level)
	}
	for _, r := range all[1:] {
		if r.level != slog.LevelError {
			t.Errorf("%q logged at %v, want ERROR", r.msg, r.level)
		}
	}
	want := panicLine + "\ngoroutine 1 [running]:\nmain.f0()\nmain.f1()"
	if got := f.Tail(); got != want {
		t.Errorf("Tail() = %q, want %q", got, want)
	}
}

// TestForwarderPanicFirst: a plugin that logged just before it panicked has
// the panic first in its tail, then the lines before it that fit.
func TestForwarderPanicFirst(t *testing.T) {
	f := logfwd.New(slog.New(slog.DiscardHandler), 6)
	for i := range 5 {
		f.Line(fmt.Sprintf(`{"level":"INFO","msg":"request %d"}`, i))
	}
	for _, l := range []string{"fatal error: concurrent map writes", "", "goroutine 7 [running]:", "main.handle()"} {
		f.Line(l)
	}
	want := "fatal error: concurrent map writes\ngoroutine 7 [running]:\nmain.handle()\n" +
		`{"level":"INFO","msg":"request 2"}` + "\n" + `{"level":"INFO","msg":"request 3"}` + "\n" + `{"level":"INFO","msg":"request 4"}`
	if got := f.Tail(); got != want {
		t.Errorf("Tail() = %q\nwant     %q", got, want)
	}
}

// TestForwarderLongTraceKeepsLinesBefore: a trace longer than the tail
// leaves a fifth of it to the lines logged before the panic.
func TestForwarderLongTraceKeepsLinesBefore(t *testing.T) {
	f := logfwd.New(slog.New(slog.DiscardHandler), 10)
	for i := range 5 {
		f.Line(fmt.Sprintf("request %d", i))
	}
	f.Line(panicLine)
	for i := range 30 {
		f.Line(fmt.Sprintf("main.f%d()", i))
	}
	want := panicLine + "\nmain.f0()\nmain.f1()\nmain.f2()\nmain.f3()\nmain.f4()\nmain.f5()\nmain.f6()\nrequest 3\nrequest 4"
	if got := f.Tail(); got != want {
		t.Errorf("Tail() = %q\nwant     %q", got, want)
	}
}

func TestForwarderTailSizes(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 4} {
		f := logfwd.New(slog.New(slog.DiscardHandler), n)
		for _, l := range []string{"a", panicLine, "b", "c"} {
			f.Line(l)
		}
		want := map[int]string{0: "", 1: panicLine, 2: panicLine + "\nb", 3: panicLine + "\nb\nc", 4: panicLine + "\nb\nc\na"}[n]
		if got := f.Tail(); got != want {
			t.Errorf("tail of %d: %q, want %q", n, got, want)
		}
	}
}

func TestForwarderConcurrent(t *testing.T) {
	log, rec := newRecorder()
	f := logfwd.New(log, 10)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 50 {
				f.Line(fmt.Sprintf("g%d line %d", g, i))
				_ = f.Tail()
			}
		})
	}
	wg.Wait()
	if n := len(rec.all()); n != 200 {
		t.Errorf("%d records, want 200", n)
	}
	if n := strings.Count(f.Tail(), "\n") + 1; n != 10 {
		t.Errorf("tail has %d lines, want 10", n)
	}
}

func TestParseLevel(t *testing.T) {
	for in, want := range map[string]slog.Level{
		"trace": slog.LevelDebug - 4, "DEBUG": slog.LevelDebug, "Info": slog.LevelInfo, "warn": slog.LevelWarn,
		"WARNING": slog.LevelWarn, "error": slog.LevelError, "fatal": slog.LevelError, "WARN+2": slog.LevelWarn + 2,
		"DEBUG-4": slog.LevelDebug - 4, "nonsense": slog.LevelInfo, "": slog.LevelInfo,
	} {
		if got := logfwd.ParseLevel(in); got != want {
			t.Errorf("ParseLevel(%q) = %v, want %v", in, got, want)
		}
	}
}

// FuzzParse: Parse never panics, keeps non-JSON lines whole at debug, and
// reads back the level, message and attribute of any line log/slog writes.
func FuzzParse(f *testing.F) {
	for _, s := range []string{slogLine, hclogLine, panicLine, "plain", `{"level":"WARN+2","msg":"x"}`, `{}`, `{"msg":1}`,
		"2026-11-22T03:00:00.000Z [INFO]  plugin: starting", `{"a":{"b":{"c":[1,{"d":null}]}}}`, `{"n":1e400}`} {
		f.Add(s, 4, "message", "key", "value")
	}
	f.Add("", -4, "", "", "")
	f.Fuzz(func(t *testing.T, line string, level int, msg, key, val string) {
		r := logfwd.Parse(line)
		if !strings.HasPrefix(strings.TrimSpace(line), "{") && (r.Level != slog.LevelDebug || r.Message != line || r.Attrs != nil) {
			t.Fatalf("plain line %q parsed as %+v", line, r)
		}
		for _, a := range r.Attrs {
			_ = a.String()
		}

		if !utf8.ValidString(msg) || !utf8.ValidString(key) || !utf8.ValidString(val) {
			return // the JSON handler replaces invalid UTF-8
		}
		var buf bytes.Buffer
		h := slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.Level(-1 << 30)})
		slog.New(h).LogAttrs(context.Background(), slog.Level(level), msg, slog.String(key, val))
		out := strings.TrimSuffix(buf.String(), "\n")
		r = logfwd.Parse(out)
		if r.Level != slog.Level(level) || r.Message != msg {
			t.Fatalf("Parse(%s) = level %v message %q, want %v %q", out, r.Level, r.Message, slog.Level(level), msg)
		}
		if slices.Contains([]string{"time", "level", "msg", "@level", "@message", "@timestamp", "@module"}, key) {
			return
		}
		if len(r.Attrs) != 1 || r.Attrs[0].Key != key || r.Attrs[0].Value.String() != val {
			t.Fatalf("Parse(%s) attributes = %v, want %s=%s", out, r.Attrs, key, val)
		}
	})
}

func flatten(as []slog.Attr) map[string]string {
	m := map[string]string{}
	var walk func(prefix string, a slog.Attr)
	walk = func(prefix string, a slog.Attr) {
		if a.Value.Kind() == slog.KindGroup {
			for _, g := range a.Value.Group() {
				walk(prefix+a.Key+".", g)
			}
			return
		}
		m[prefix+a.Key] = a.Value.String()
	}
	for _, a := range as {
		walk("", a)
	}
	return m
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

type rec struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

// recorder is a slog.Handler keeping every record with its attributes.
type recorder struct {
	mu    *sync.Mutex
	recs  *[]rec
	attrs []slog.Attr
}

func newRecorder() (*slog.Logger, *recorder) {
	r := &recorder{mu: new(sync.Mutex), recs: new([]rec)}
	return slog.New(r), r
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }

func (r *recorder) Handle(_ context.Context, sr slog.Record) error {
	as := slices.Clone(r.attrs)
	sr.Attrs(func(a slog.Attr) bool { as = append(as, a); return true })
	r.mu.Lock()
	defer r.mu.Unlock()
	*r.recs = append(*r.recs, rec{sr.Level, sr.Message, flatten(as)})
	return nil
}

func (r *recorder) WithAttrs(as []slog.Attr) slog.Handler {
	c := *r
	c.attrs = append(slices.Clone(r.attrs), as...)
	return &c
}

func (r *recorder) WithGroup(string) slog.Handler { return r }

func (r *recorder) all() []rec {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(*r.recs)
}
