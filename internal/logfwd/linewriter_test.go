package logfwd_test

import (
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tetherplug/tether/internal/logfwd"
)

// lines collects what a LineWriter passes on.
type lines struct {
	mu  sync.Mutex
	got []string
}

func (l *lines) add(s string) { l.mu.Lock(); l.got = append(l.got, s); l.mu.Unlock() }

func (l *lines) all() []string { l.mu.Lock(); defer l.mu.Unlock(); return slices.Clone(l.got) }

func writeChunks(t *testing.T, w io.Writer, chunks ...string) {
	t.Helper()
	for _, c := range chunks {
		if n, err := w.Write([]byte(c)); n != len(c) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", c, n, err)
		}
	}
}

// TestLineWriterSplitRecord: a JSON record cut into three chunks, as the
// stdio stream delivers it, is one line and one re-levelled slog record.
func TestLineWriterSplitRecord(t *testing.T) {
	log, rec := newRecorder()
	f := logfwd.New(log, 5)
	w := logfwd.NewLineWriter(f.Line)
	line := slogLine + "\n"
	writeChunks(t, w, line[:10], line[10:80], line[80:])
	got := rec.all()
	if len(got) != 1 {
		t.Fatalf("%d records, want 1: %+v", len(got), got)
	}
	if r := got[0]; r.level != slog.LevelWarn || r.msg != "disk almost full" || r.attrs["path"] != "/var" {
		t.Errorf("record = %+v, want the WARN record with its attributes", r)
	}
	if tail := f.Tail(); tail != slogLine {
		t.Errorf("Tail() = %q, want the whole line", tail)
	}
}

// TestLineWriterTwoRecordsInOneChunk: records merged into one chunk are
// passed on one by one, each with its newline.
func TestLineWriterTwoRecordsInOneChunk(t *testing.T) {
	var l lines
	w := logfwd.NewLineWriter(l.add)
	writeChunks(t, w, `{"msg":"a"}`+"\n"+`{"msg":"b"}`+"\n"+`{"msg":`, `"c"}`+"\n")
	want := []string{`{"msg":"a"}` + "\n", `{"msg":"b"}` + "\n", `{"msg":"c"}` + "\n"}
	if got := l.all(); !slices.Equal(got, want) {
		t.Errorf("lines = %q, want %q", got, want)
	}

	log, rec := newRecorder()
	w = logfwd.NewLineWriter(logfwd.New(log, 5).Line)
	writeChunks(t, w, `{"level":"ERROR","msg":"a"}`+"\n"+`{"level":"INFO","msg":"b"}`+"\n")
	got := rec.all()
	if len(got) != 2 || got[0].msg != "a" || got[0].level != slog.LevelError || got[1].msg != "b" || got[1].level != slog.LevelInfo {
		t.Errorf("records = %+v, want ERROR a then INFO b", got)
	}
}

// TestLineWriterLongLine: a line longer than MaxLine is passed on in pieces
// of MaxLine bytes, whatever the chunks, and no piece is an empty line.
func TestLineWriterLongLine(t *testing.T) {
	var l lines
	w := logfwd.NewLineWriter(l.add)
	long := strings.Repeat("x", 2*logfwd.MaxLine+100)
	for i := 0; i < len(long); i += 1000 {
		writeChunks(t, w, long[i:min(i+1000, len(long))])
	}
	writeChunks(t, w, "\nnext\n")
	got := l.all()
	want := []string{long[:logfwd.MaxLine], long[logfwd.MaxLine : 2*logfwd.MaxLine], long[2*logfwd.MaxLine:] + "\n", "next\n"}
	if !slices.Equal(got, want) {
		t.Errorf("got %d lines of lengths %v, want lengths %v", len(got), lengths(got), lengths(want))
	}

	// Exactly MaxLine bytes, then the newline in the next chunk.
	l = lines{}
	w = logfwd.NewLineWriter(l.add)
	writeChunks(t, w, strings.Repeat("y", logfwd.MaxLine), "\n", "z\n")
	if got := l.all(); !slices.Equal(got, []string{strings.Repeat("y", logfwd.MaxLine), "z\n"}) {
		t.Errorf("a MaxLine line then its newline: lengths %v, want [%d 2]", lengths(got), logfwd.MaxLine)
	}
}

// TestLineWriterClose: Close passes on a last line without its newline,
// once, and later Writes fail.
func TestLineWriterClose(t *testing.T) {
	var l lines
	w := logfwd.NewLineWriter(l.add)
	writeChunks(t, w, "one\ntw", "o")
	if got := l.all(); !slices.Equal(got, []string{"one\n"}) {
		t.Errorf("before Close: %q, want only the complete line", got)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if got := l.all(); !slices.Equal(got, []string{"one\n", "two"}) {
		t.Errorf("after Close: %q, want the partial line flushed once", got)
	}
	if _, err := w.Write([]byte("late\n")); !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("Write after Close: %v, want io.ErrClosedPipe", err)
	}
}

func lengths(ss []string) []int {
	n := make([]int, len(ss))
	for i, s := range ss {
		n[i] = len(s)
	}
	return n
}
