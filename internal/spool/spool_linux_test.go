//go:build linux

package spool

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

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
