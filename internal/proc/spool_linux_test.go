//go:build linux

package proc

import (
	"os"
	"testing"
	"time"
)

// A spooled process leaves no descriptor open once its readers have
// stopped (KillTimeout after the exit).
func TestSpoolNoFDLeak(t *testing.T) {
	s, _, _ := spoolSpec(t, "echo hs\necho e >&2\n")
	s.KillTimeout = 50 * time.Millisecond
	before := countFDs(t)
	p := start(t, s)
	mustHandshake(t, p)
	waitExited(t, p, 10*time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for countFDs(t) > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d descriptors open before, %d after the exit", before, countFDs(t))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func countFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}
