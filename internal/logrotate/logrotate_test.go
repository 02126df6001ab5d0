package logrotate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newWriter(t *testing.T, maxBytes int64, keep int) (*Writer, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "logs", "p.stderr")
	w, err := New(path, maxBytes, keep)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w, path
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRotation(t *testing.T) {
	w, path := newWriter(t, 20, 2)
	for i := range 10 {
		fmt.Fprintf(w, "line %d\n", i) // 7 bytes: two lines per file
	}
	if got := read(t, path); got != "line 8\nline 9\n" {
		t.Errorf("path holds %q", got)
	}
	if got := read(t, path+".1"); got != "line 6\nline 7\n" {
		t.Errorf("path.1 holds %q", got)
	}
	if got := read(t, path+".2"); got != "line 4\nline 5\n" {
		t.Errorf("path.2 holds %q", got)
	}
	if _, err := os.Stat(path + ".3"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("path.3 exists with keep 2: %v", err)
	}
	for _, name := range []string{path, path + ".1", path + ".2"} {
		fi, _ := os.Stat(name)
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v", name, fi.Mode().Perm())
		}
	}
	fi, _ := os.Stat(filepath.Dir(path))
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v", fi.Mode().Perm())
	}
}

// Lines are whole in every file; several lines in one Write are split at
// line boundaries; a line longer than maxBytes alone is cut.
func TestNoSplitLines(t *testing.T) {
	w, path := newWriter(t, 10, 5)
	fmt.Fprint(w, "aaaa\nbbbb\ncccc\n")
	fmt.Fprint(w, "0123456789ABCDEFGHIJxyz\n")
	want := map[string]string{
		path + ".4": "aaaa\nbbbb\n",
		path + ".3": "cccc\n",
		path + ".2": "0123456789",
		path + ".1": "ABCDEFGHIJ",
		path:        "xyz\n",
	}
	for name, content := range want {
		if got := read(t, name); got != content {
			t.Errorf("%s holds %q, want %q", filepath.Base(name), got, content)
		}
	}
}

func TestKeepZero(t *testing.T) {
	w, path := newWriter(t, 8, 0)
	fmt.Fprint(w, "first\n")
	fmt.Fprint(w, "second\n")
	if got := read(t, path); got != "second\n" {
		t.Errorf("path holds %q", got)
	}
	if _, err := os.Stat(path + ".1"); err == nil {
		t.Error("path.1 exists with keep 0")
	}
}

// Reopening an existing file appends and counts what is there.
func TestReopenCountsExisting(t *testing.T) {
	w, path := newWriter(t, 10, 1)
	fmt.Fprint(w, "12345678\n")
	w.Close()
	if _, err := fmt.Fprint(w, "x\n"); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close = %v", err)
	}
	w2, err := New(path, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	fmt.Fprint(w2, "abc\n")
	if got := read(t, path+".1"); got != "12345678\n" {
		t.Errorf("path.1 holds %q", got)
	}
}

func TestBadLimits(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		max  int64
		keep int
	}{{0, 1}, {-1, 1}, {10, -1}} {
		if _, err := New(filepath.Join(dir, "x"), c.max, c.keep); !errors.Is(err, ErrBadLimits) {
			t.Errorf("New(%d, %d) = %v, want ErrBadLimits", c.max, c.keep, err)
		}
	}
}

// Concurrent writers never interleave within a line, and no line is lost
// beyond what rotation drops.
func TestConcurrentWrites(t *testing.T) {
	w, path := newWriter(t, 1<<20, 1)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				fmt.Fprintf(w, "g%d-%03d-%s\n", g, i, strings.Repeat("x", 30))
			}
		})
	}
	wg.Wait()
	lines, err := ReadTail(path, 10000)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 1600 {
		t.Errorf("%d lines, want 1600", len(lines))
	}
	for _, l := range lines {
		if len(l) != 37 {
			t.Fatalf("mangled line %q", l)
		}
	}
}

func TestReadTail(t *testing.T) {
	w, path := newWriter(t, 20, 3)
	for i := range 10 {
		fmt.Fprintf(w, "line %d\n", i)
	}
	got, err := ReadTail(path, 5)
	if err != nil {
		t.Fatal(err)
	}
	if want := "line 5,line 6,line 7,line 8,line 9"; strings.Join(got, ",") != want {
		t.Errorf("ReadTail 5 = %q", got)
	}
	got, _ = ReadTail(path, 100) // as far as the kept files go: 4 files of 2 lines
	if len(got) != 8 || got[0] != "line 2" {
		t.Errorf("ReadTail 100 = %q", got)
	}
	if _, err := ReadTail(filepath.Join(t.TempDir(), "none"), 3); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadTail of a missing log = %v", err)
	}
}

// Follow sees new lines, also across a rotation, in order, and stops with
// the context.
func TestFollow(t *testing.T) {
	w, path := newWriter(t, 150, 2)
	fmt.Fprint(w, "old\n")
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan string, 100)
	done := make(chan error, 1)
	go func() { done <- Follow(ctx, path, func(l string) { got <- l }) }()
	// Follow starts at the end: wait until it has opened the file by
	// writing until the first line arrives.
	deadline := time.After(10 * time.Second)
	var first string
	for first == "" {
		fmt.Fprint(w, "probe\n")
		select {
		case first = <-got:
		case <-time.After(300 * time.Millisecond):
		case <-deadline:
			t.Fatal("Follow saw nothing within 10s")
		}
	}
	if first != "probe" {
		t.Fatalf("first line %q", first)
	}
	for len(got) > 0 {
		<-got
	}
	// 200 bytes: one rotation.
	for i := range 10 {
		fmt.Fprintf(w, "line %d %s\n", i, strings.Repeat("-", 11))
	}
	if _, err := os.Stat(path + ".1"); err != nil {
		t.Fatalf("no rotation: %v", err)
	}
	for i := range 10 {
		select {
		case l := <-got:
			if want := fmt.Sprintf("line %d %s", i, strings.Repeat("-", 11)); l != want {
				t.Fatalf("got %q, want %q", l, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("line %d not seen within 5s", i)
		}
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Follow = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Follow did not return within 5s of the cancel")
	}
}
