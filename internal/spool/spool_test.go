package spool

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// readResult is one Read's outcome.
type readResult struct {
	s   string
	err error
}

// readAsync reads once from r in a goroutine.
func readAsync(r io.Reader, size int) <-chan readResult {
	ch := make(chan readResult, 1)
	go func() {
		b := make([]byte, size)
		n, err := r.Read(b)
		ch <- readResult{string(b[:n]), err}
	}()
	return ch
}

func recv(t *testing.T, ch <-chan readResult, d time.Duration) readResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(d):
		t.Fatalf("no Read result within %v", d)
		return readResult{}
	}
}

func newSpool(t *testing.T) (string, *os.File) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "out.spool")
	w, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return path, w
}

func TestOpenMode(t *testing.T) {
	path, _ := newSpool(t)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	if _, err := Open(filepath.Join(t.TempDir(), "no", "x")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open in a missing directory = %v, want fs.ErrNotExist", err)
	}
}

// Read blocks at the end and returns an append promptly (well under the
// safety poll, so the wake-up came from inotify).
func TestFollowWakesOnAppend(t *testing.T) {
	path, w := newSpool(t)
	fl := Follow(path, 0)
	defer fl.Stop()
	ch := readAsync(fl, 100)
	select {
	case r := <-ch:
		t.Fatalf("Read of an empty spool returned %q, %v", r.s, r.err)
	case <-time.After(100 * time.Millisecond):
	}
	t0 := time.Now()
	fmt.Fprint(w, "hello\n")
	r := recv(t, ch, 5*time.Second)
	if r.s != "hello\n" || r.err != nil {
		t.Fatalf("Read = %q, %v", r.s, r.err)
	}
	if d := time.Since(t0); d > 500*time.Millisecond {
		t.Errorf("append seen after %v: not woken by inotify", d)
	}
	if fl.Offset() != 6 {
		t.Errorf("Offset = %d, want 6", fl.Offset())
	}
}

func TestDrain(t *testing.T) {
	path, w := newSpool(t)
	fmt.Fprint(w, "a\nb\n")
	fl := Follow(path, 0)
	defer fl.Stop()
	br := bufio.NewReader(fl)
	if l, err := br.ReadString('\n'); l != "a\n" || err != nil {
		t.Fatalf("first line %q, %v", l, err)
	}
	fmt.Fprint(w, "c")
	fl.Drain()
	done := make(chan string, 1)
	go func() {
		rest, err := io.ReadAll(br)
		if err != nil {
			t.Error(err)
		}
		done <- string(rest)
	}()
	select {
	case rest := <-done:
		if rest != "b\nc" {
			t.Errorf("after Drain read %q, want %q", rest, "b\nc")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Drain did not end reading within 5s")
	}
	if fl.Offset() != 5 {
		t.Errorf("Offset = %d, want 5", fl.Offset())
	}
}

// Drain wakes a Read already blocked at the end.
func TestDrainWakesBlockedRead(t *testing.T) {
	path, _ := newSpool(t)
	fl := Follow(path, 0)
	defer fl.Stop()
	ch := readAsync(fl, 10)
	time.AfterFunc(50*time.Millisecond, fl.Drain)
	if r := recv(t, ch, time.Second); r.err != io.EOF {
		t.Errorf("Read = %q, %v, want io.EOF", r.s, r.err)
	}
}

func TestStopEndsBlockedRead(t *testing.T) {
	path, w := newSpool(t)
	fl := Follow(path, 0)
	ch := readAsync(fl, 10)
	time.AfterFunc(50*time.Millisecond, fl.Stop)
	if r := recv(t, ch, time.Second); !errors.Is(r.err, ErrStopped) {
		t.Errorf("Read = %q, %v, want ErrStopped", r.s, r.err)
	}
	fmt.Fprint(w, "late\n")
	if n, err := fl.Read(make([]byte, 10)); n != 0 || !errors.Is(err, ErrStopped) {
		t.Errorf("Read after Stop = %d, %v", n, err)
	}
	fl.Stop() // twice is fine
}

// A new Follower from a recorded offset reads the rest, and a handshake
// line can be read through bufio.
func TestResumeAtOffset(t *testing.T) {
	path, w := newSpool(t)
	fmt.Fprint(w, "handshake|1\nline1\nline2\n")
	fl := Follow(path, 0)
	br := bufio.NewReader(fl)
	if l, err := br.ReadString('\n'); l != "handshake|1\n" || err != nil {
		t.Fatalf("handshake %q, %v", l, err)
	}
	fl.Stop()
	fl2 := Follow(path, int64(len("handshake|1\nline1\n")))
	defer fl2.Stop()
	fmt.Fprint(w, "line3\n")
	got := ""
	br2 := bufio.NewReader(fl2)
	for !strings.HasSuffix(got, "line3\n") {
		ch := make(chan readResult, 1)
		go func() { l, err := br2.ReadString('\n'); ch <- readResult{l, err} }()
		r := recv(t, ch, 5*time.Second)
		if r.err != nil {
			t.Fatal(r.err)
		}
		got += r.s
	}
	if got != "line2\nline3\n" {
		t.Errorf("resumed read %q", got)
	}
}

func TestFollowMissingFile(t *testing.T) {
	fl := Follow(filepath.Join(t.TempDir(), "none"), 0)
	defer fl.Stop()
	if _, err := fl.Read(make([]byte, 1)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Read = %v, want fs.ErrNotExist", err)
	}
}

func blocks(t *testing.T, path string) (blocks, size int64) {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Blocks, st.Size
}

// Behind the read offset the blocks are freed; the size is kept; a
// Follower starting inside the hole skips to data, never reading zeros.
func TestPunchFreesReadBlocks(t *testing.T) {
	path, w := newSpool(t)
	chunk := bytes.Repeat([]byte("0123456789abcde\n"), 4096) // 64 KiB
	const chunks = 32
	for range chunks {
		if _, err := w.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	before, size := blocks(t, path)
	fl := Follow(path, 0)
	defer fl.Stop()
	var punchErr atomic.Value
	fl.OnPunchError(func(err error) { punchErr.Store(err) })
	want := int64(chunks*len(chunk) - 100)
	if _, err := io.CopyN(io.Discard, fl, want); err != nil {
		t.Fatal(err)
	}
	if err := fl.PunchErr(); err != nil {
		t.Skipf("filesystem of %s does not punch holes: %v", path, err)
	}
	after, size2 := blocks(t, path)
	t.Logf("st_blocks %d -> %d (size %d)", before, after, size2)
	if size2 != size {
		t.Errorf("size %d -> %d, want unchanged", size, size2)
	}
	if after > before/8 {
		t.Errorf("st_blocks %d -> %d after reading all but 100 bytes: not freed", before, after)
	}
	fl2 := Follow(path, 0)
	defer fl2.Stop()
	if fl2.Offset() == 0 || fl2.Offset()%PunchChunk != 0 {
		t.Errorf("Follow(0) in a hole starts at %d, want the next chunk boundary", fl2.Offset())
	}
	fl2.Drain()
	rest, err := io.ReadAll(fl2)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.IndexByte(rest, 0) >= 0 {
		t.Error("a Follower starting in the hole read zeros")
	}
	if !bytes.HasSuffix(rest, chunk[len(chunk)-100:]) {
		t.Error("the unread tail is not intact")
	}
	if punchErr.Load() != nil {
		t.Errorf("OnPunchError called: %v", punchErr.Load())
	}
}

// A filesystem that refuses hole punching is reported once, and reading
// goes on.
func TestPunchUnsupportedReportedOnce(t *testing.T) {
	calls := 0
	fallocate = func(int, uint32, int64, int64) error { calls++; return unix.EOPNOTSUPP }
	defer func() { fallocate = unix.Fallocate }()
	path, w := newSpool(t)
	data := bytes.Repeat([]byte("x"), 4*PunchChunk)
	w.Write(data)
	fl := Follow(path, 0)
	defer fl.Stop()
	var reported atomic.Int32
	fl.OnPunchError(func(err error) {
		reported.Add(1)
		if !errors.Is(err, ErrPunchUnsupported) {
			t.Errorf("reported %v, want ErrPunchUnsupported", err)
		}
	})
	n, err := io.CopyN(io.Discard, fl, int64(len(data)))
	if err != nil || n != int64(len(data)) {
		t.Fatalf("read %d, %v", n, err)
	}
	if reported.Load() != 1 || calls != 1 {
		t.Errorf("reported %d times, fallocate called %d times; want once each", reported.Load(), calls)
	}
	if !errors.Is(fl.PunchErr(), ErrPunchUnsupported) {
		t.Errorf("PunchErr = %v", fl.PunchErr())
	}
}

// Many idle Followers cost next to no CPU. The window is longer than the
// safety poll, so every Follower wakes in it at least once.
func TestIdleCPU(t *testing.T) {
	if testing.Short() {
		t.Skip("takes over 5s")
	}
	const n = 400
	dir := t.TempDir()
	var fls []*Follower
	var chs []<-chan readResult
	for i := range n {
		path := filepath.Join(dir, fmt.Sprint(i))
		w, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		w.Close()
		fl := Follow(path, 0)
		fls = append(fls, fl)
		chs = append(chs, readAsync(fl, 10))
	}
	time.Sleep(100 * time.Millisecond) // let every Read block
	cpu0, t0 := cpuTime(t), time.Now()
	time.Sleep(safetyPoll + time.Second)
	used, wall := cpuTime(t)-cpu0, time.Since(t0)
	frac := float64(used) / float64(wall)
	t.Logf("%d idle followers: %.2f%% of one core", n, 100*frac)
	if frac > 0.02 {
		t.Errorf("%d idle followers use %.2f%% of a core, want under 2%%", n, 100*frac)
	}
	for i, fl := range fls {
		fl.Stop()
		if r := recv(t, chs[i], 5*time.Second); !errors.Is(r.err, ErrStopped) {
			t.Errorf("Read = %v after Stop", r.err)
		}
	}
}

func cpuTime(t *testing.T) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// Followers leave no descriptor behind, whether stopped, drained to the
// end, or never able to open their file; the shared inotify instance goes
// with the last of them.
func TestNoFDLeak(t *testing.T) {
	path, w := newSpool(t)
	fmt.Fprint(w, "x\n")
	before := openFDs(t)
	for range 20 {
		a := Follow(path, 0)
		b := Follow(path, 0)
		c := Follow(path+".none", 0)
		a.Stop()
		b.Drain()
		if _, err := io.ReadAll(b); err != nil {
			t.Fatal(err)
		}
		c.Stop()
	}
	if after := openFDs(t); after != before {
		t.Errorf("%d descriptors open before, %d after", before, after)
	}
}

// Without inotify (no instance to be had) appends are still seen, within
// the fallback poll.
func TestFallbackPoll(t *testing.T) {
	useWatcher = false
	defer func() { useWatcher = true }()
	path, w := newSpool(t)
	fl := Follow(path, 0)
	defer fl.Stop()
	if fl.wd >= 0 {
		t.Fatal("watching despite useWatcher = false")
	}
	ch := readAsync(fl, 100)
	fmt.Fprint(w, "polled\n")
	if r := recv(t, ch, time.Second); r.s != "polled\n" || r.err != nil {
		t.Errorf("Read = %q, %v", r.s, r.err)
	}
}

// TestOpenRefusesSymlink: a spool file that is a symbolic link is refused
// by Open and by Follow, and its target is left untouched.
func TestOpenRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "precious")
	if err := os.WriteFile(target, []byte("keep\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "stdout")
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	const says = " is a symbolic link, not a regular file"
	if f, err := Open(path); err == nil || !strings.Contains(err.Error(), path+says) {
		if f != nil {
			_ = f.Close()
		}
		t.Errorf("Open on a symbolic link: %v; want a refusal naming it", err)
	}
	fl := Follow(path, 0)
	defer fl.Stop()
	if _, err := fl.Read(make([]byte, 8)); err == nil || !strings.Contains(err.Error(), path+says) {
		t.Errorf("Follow on a symbolic link: Read %v; want a refusal naming it", err)
	}
}
