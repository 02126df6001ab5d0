package spool

import (
	"fmt"
	"testing"
	"time"
)

// The fsnotify watcher, the one every OS but Linux uses, wakes a Follower
// on an append long before the safety poll would, and closes with the last
// Follower. On Linux it runs here in place of Linux's own watch (watch_linux.go).
func TestFSWatcherWakesOnAppend(t *testing.T) {
	saved, fw := shared, newFSWatcher()
	shared = fw
	defer func() { shared = saved }()
	path, w := newSpool(t)
	a, b := Follow(path, 0), Follow(path, 0)
	if a.wd < 0 || b.wd < 0 {
		t.Fatal("Followers not watching through fsnotify")
	}
	cha, chb := readAsync(a, 100), readAsync(b, 100)
	select { // both readers are waiting at the end of the file
	case r := <-cha:
		t.Fatalf("Read of an empty spool returned %q, %v", r.s, r.err)
	case r := <-chb:
		t.Fatalf("Read of an empty spool returned %q, %v", r.s, r.err)
	case <-time.After(100 * time.Millisecond):
	}
	fmt.Fprint(w, "woken\n")
	// The safety poll is 5s: within 1s only the watch can have woken them.
	for _, ch := range []<-chan readResult{cha, chb} {
		if r := recv(t, ch, time.Second); r.s != "woken\n" || r.err != nil {
			t.Errorf("Read = %q, %v; want the append", r.s, r.err)
		}
	}
	a.Stop()
	fw.mu.Lock()
	open := fw.w != nil
	fw.mu.Unlock()
	if !open {
		t.Error("watcher closed while a Follower still watches")
	}
	b.Stop()
	fw.mu.Lock()
	defer fw.mu.Unlock()
	if fw.w != nil || len(fw.subs) != 0 || len(fw.paths) != 0 {
		t.Errorf("watcher left behind after the last Follower: open %v, %d paths, %d ids", fw.w != nil, len(fw.subs), len(fw.paths))
	}
}
