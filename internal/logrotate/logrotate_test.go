package logrotate

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

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
	lines := allLines(t, path)
	if len(lines) != 1600 {
		t.Errorf("%d lines, want 1600", len(lines))
	}
	for _, l := range lines {
		if len(l) != 37 {
			t.Fatalf("mangled line %q", l)
		}
	}
}

// allLines reads the whole log at path, rotated files first.
func allLines(t *testing.T, path string) []string {
	t.Helper()
	var lines []string
	for _, f := range Files(path) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")...)
	}
	return lines
}

// TestRefusesSymlink: a log file that is a symbolic link (planted to make
// the writer append to some other file) is refused, and its target is left
// untouched.
func TestRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "precious")
	if err := os.WriteFile(target, []byte("keep\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "a.stderr.log")
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	w, err := New(path, 1<<20, 2)
	if err == nil {
		_, _ = w.Write([]byte("planted\n"))
		_ = w.Close()
	}
	if err == nil || !strings.Contains(err.Error(), path+" is a symbolic link, not a regular file") {
		t.Errorf("New on a symbolic link: %v; want a refusal naming it", err)
	}
	if b, _ := os.ReadFile(target); string(b) != "keep\n" {
		t.Errorf("the link's target now holds %q", b)
	}
}
