package spool

import (
	"path/filepath"
	"sync"

	"github.com/fsnotify/fsnotify"
)

// fsWatcher is a file watcher through fsnotify, the process's one outside
// Linux, shared by every Follower: on macOS and the BSDs fsnotify uses
// kqueue (one descriptor per watched file), on Windows
// ReadDirectoryChangesW on the file's directory. (On Linux, where the
// kernel's watch is used directly, the tests run the Followers on it too.) It exists
// while at least one Follower watches, so that no goroutine outlives the
// last one.
type fsWatcher struct {
	mu    sync.Mutex
	w     *fsnotify.Watcher // nil while nobody watches
	next  int32
	paths map[int32]string                      // watch id → cleaned path
	subs  map[string]map[chan struct{}]struct{} // cleaned path → wake channels
}

func newFSWatcher() *fsWatcher {
	return &fsWatcher{paths: map[int32]string{}, subs: map[string]map[chan struct{}]struct{}{}}
}

// add watches path for writes; c gets a non-blocking send after each.
func (w *fsWatcher) add(path string, c chan struct{}) (int32, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.w == nil {
		fw, err := fsnotify.NewWatcher()
		if err != nil {
			return -1, err
		}
		w.w = fw
		go w.loop(fw)
	}
	path = filepath.Clean(path)
	set := w.subs[path]
	if set == nil {
		if err := w.w.Add(path); err != nil {
			w.closeIfIdle()
			return -1, err
		}
		set = map[chan struct{}]struct{}{}
		w.subs[path] = set
	}
	set[c] = struct{}{}
	w.next++
	w.paths[w.next] = path
	return w.next, nil
}

// remove undoes add.
func (w *fsWatcher) remove(id int32, c chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	path := w.paths[id]
	delete(w.paths, id)
	set := w.subs[path]
	delete(set, c)
	if len(set) == 0 {
		delete(w.subs, path)
		if w.w != nil {
			_ = w.w.Remove(path)
		}
	}
	w.closeIfIdle()
}

// closeIfIdle closes the watcher when nobody watches; its loop ends.
func (w *fsWatcher) closeIfIdle() {
	if len(w.subs) == 0 && w.w != nil {
		_ = w.w.Close()
		w.w = nil
	}
}

// loop wakes the followers of each file written until fw is closed. An
// error (an overflow, say) wakes them all: they read what there is.
func (w *fsWatcher) loop(fw *fsnotify.Watcher) {
	for {
		select {
		case ev, ok := <-fw.Events:
			if !ok {
				return
			}
			w.wake(filepath.Clean(ev.Name))
		case _, ok := <-fw.Errors:
			if !ok {
				return
			}
			w.mu.Lock()
			wakeAll(w.subs)
			w.mu.Unlock()
		}
	}
}

func (w *fsWatcher) wake(path string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for c := range w.subs[path] {
		notify(c)
	}
}
