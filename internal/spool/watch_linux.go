package spool

import (
	"errors"
	"os"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// inotifyWatcher is the process's one inotify instance, shared by every Follower
// (the per-user limit on instances is low, 128 by default, while watches
// are plentiful). It exists while at least one Follower watches, so that
// no goroutine outlives the last one.
type inotifyWatcher struct {
	mu   sync.Mutex
	file *os.File                             // nil while nobody watches
	fd   int                                  // file's descriptor (Fd would make it blocking)
	subs map[int32]map[chan struct{}]struct{} // watch descriptor → followers' wake channels
}

var shared fileWatcher = &inotifyWatcher{subs: map[int32]map[chan struct{}]struct{}{}}

// add watches path for writes; c gets a non-blocking send after each.
func (w *inotifyWatcher) add(path string, c chan struct{}) (int32, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.file == nil {
		fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
		if err != nil {
			return -1, os.NewSyscallError("inotify_init1", err)
		}
		// A non-blocking descriptor goes to the runtime's poller: reading
		// it parks the goroutine rather than a thread.
		w.file, w.fd = os.NewFile(uintptr(fd), "inotify"), fd
		go w.loop(w.file)
	}
	wd, err := unix.InotifyAddWatch(w.fd, path, unix.IN_MODIFY)
	if err != nil {
		w.closeIfIdle()
		return -1, os.NewSyscallError("inotify_add_watch", err)
	}
	set := w.subs[int32(wd)]
	if set == nil {
		set = map[chan struct{}]struct{}{}
		w.subs[int32(wd)] = set
	}
	set[c] = struct{}{}
	return int32(wd), nil
}

// remove undoes add.
func (w *inotifyWatcher) remove(wd int32, c chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	set := w.subs[wd]
	delete(set, c)
	if len(set) == 0 {
		delete(w.subs, wd)
		if w.file != nil {
			_, _ = unix.InotifyRmWatch(w.fd, uint32(wd))
		}
	}
	w.closeIfIdle()
}

// closeIfIdle closes the instance when nobody watches; its loop ends.
func (w *inotifyWatcher) closeIfIdle() {
	if len(w.subs) == 0 && w.file != nil {
		_ = w.file.Close()
		w.file = nil
	}
}

// loop reads events from f until it is closed and wakes the followers of
// each watch descriptor named.
func (w *inotifyWatcher) loop(f *os.File) {
	buf := make([]byte, 4096)
	for {
		n, err := f.Read(buf)
		if err != nil {
			if !errors.Is(err, os.ErrClosed) {
				// Unexpected: the followers fall back to their slow
				// poll, which bounds their latency still.
				w.wakeEvery()
			}
			return
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			w.wake(ev.Wd, ev.Mask)
			off += unix.SizeofInotifyEvent + int(ev.Len)
		}
	}
}

func (w *inotifyWatcher) wake(wd int32, mask uint32) {
	if mask&unix.IN_Q_OVERFLOW != 0 {
		w.wakeEvery()
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for c := range w.subs[wd] {
		notify(c)
	}
}

// wakeEvery wakes every Follower watching.
func (w *inotifyWatcher) wakeEvery() {
	w.mu.Lock()
	defer w.mu.Unlock()
	wakeAll(w.subs)
}
