//go:build unix

package spool

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

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
