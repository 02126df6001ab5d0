package spool

// fileWatcher wakes Followers when their file is written: the kernel's
// own watch on Linux (watch_linux.go), fsnotify elsewhere.
type fileWatcher interface {
	// add watches path; c gets a non-blocking send after each write.
	add(path string, c chan struct{}) (int32, error)
	// remove undoes add.
	remove(id int32, c chan struct{})
}

// wakeAll wakes every Follower in subs; the caller holds the lock that
// guards it.
func wakeAll[K comparable](subs map[K]map[chan struct{}]struct{}) {
	for _, set := range subs {
		for c := range set {
			notify(c)
		}
	}
}

// notify sends on c without blocking: one pending wake-up is enough.
func notify(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
