// Package spool carries a supervised plugin's stdout and stderr through
// files instead of pipes, so that the plugin neither dies of SIGPIPE nor
// blocks nor loses what it writes while no host is there to read (after the
// host died, until a new one adopts it).
//
// The host creates each spool file with Open and passes it to the plugin as
// descriptor 1 or 2; the plugin appends. The host reads with a Follower,
// which blocks at the end of the file until more is appended, and records
// Offset: a new host resumes with Follow(path, offset), so every byte is
// read at least once.
//
// Disk use stays bounded however long the plugin runs where the OS can
// free a file's blocks (holes_*.go: Linux, macOS on APFS, FreeBSD 14 on ZFS
// or tmpfs, Windows on NTFS or ReFS): behind the read offset the Follower
// frees the file's blocks. The logical size keeps growing (so the plugin's
// append offset and every recorded offset stay valid) while the blocks on
// disk do not. A Follower that starts inside such a hole skips to the next
// data (SEEK_DATA, or the allocated ranges on Windows): what a hole held
// has been read before. Where the filesystem cannot punch holes, that is reported
// once (OnPunchError, PunchErr) and the file simply grows.
//
// Waiting uses one file watcher shared by all Followers of the process
// (watch_linux.go on Linux, fsnotify elsewhere), with a slow poll as a
// safety net (and as the only mechanism where the watcher
// is unavailable); an idle Follower costs no CPU beyond that poll.
package spool

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetherplug/tether/internal/statefile"
)

// PunchChunk is the granularity of hole punching: blocks are freed once a
// whole PunchChunk-aligned range lies behind the read offset.
const PunchChunk = 64 << 10

// Poll intervals: safetyPoll with a file watcher, fallbackPoll without.
var (
	safetyPoll   = 5 * time.Second
	fallbackPoll = 25 * time.Millisecond
)

// ErrStopped is returned by Read after Stop.
var ErrStopped = errors.New("spool follower stopped")

// errNoHoles is wrapped by punchHole's error when the file system (or the
// OS) cannot punch holes.
var errNoHoles = errors.New("no hole punching")

// ErrPunchUnsupported is wrapped by the error reported when the filesystem
// refuses to free blocks behind the read offset (EOPNOTSUPP): the spool
// file's disk use then grows with everything the plugin writes.
var ErrPunchUnsupported = errors.New("filesystem cannot punch holes: spool disk use is not bounded")

// Open creates path if needed (mode 0600; its directory must exist; a
// symbolic link, a file that is not regular or one of another user is
// refused, as by Follow) and opens it O_WRONLY|O_APPEND, for the plugin's descriptor 1 or 2. The caller
// closes its copy once the plugin has started.
func Open(path string) (*os.File, error) {
	f, err := statefile.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	if err := f.Chmod(0o600); err != nil { // whatever the umask or an older file said
		_ = f.Close()
		return nil, fmt.Errorf("spool: %w", err)
	}
	return f, nil
}

// Follower reads what is appended to a spool file. Read belongs to one
// reader; Offset, Drain, Stop, PunchErr and OnPunchError are safe to call
// from any goroutine.
type Follower struct {
	path    string
	f       *os.File // read-write: punching a hole (Linux) needs a writable descriptor
	openErr error
	off     atomic.Int64
	punched int64 // Read's goroutine only

	notify chan struct{} // file watcher wake-ups
	wd     int32         // -1 when not watching

	end      chan struct{} // closed by Drain or Stop
	endOnce  sync.Once
	draining atomic.Bool
	stopped  atomic.Bool

	closeOnce sync.Once
	mu        sync.Mutex
	punchErr  error
	onPunch   func(error)
}

// Follow starts reading path at offset (0 for the beginning; a recorded
// Offset to resume). An offset inside a punched hole moves to the data
// after it. An error opening the file is returned by the first Read.
func Follow(path string, offset int64) *Follower {
	fl := &Follower{path: path, notify: make(chan struct{}, 1), end: make(chan struct{}), wd: -1}
	fl.off.Store(offset)
	fl.punched = offset - offset%PunchChunk
	f, err := statefile.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		fl.openErr = fmt.Errorf("spool: %w", err)
		return fl
	}
	fl.f = f
	// The watch comes before the first read, so no append is missed.
	if useWatcher {
		if wd, err := shared.add(path, fl.notify); err == nil {
			fl.wd = wd
		}
	}
	fl.control(func(fd int) {
		if pos, ok := nextData(fd, offset); ok && pos > offset {
			fl.off.Store(pos)
		}
	})
	return fl
}

// Offset is how far the Follower has read: the offset of the first byte Read
// has not returned. Recorded, it is where a new Follower resumes.
func (fl *Follower) Offset() int64 { return fl.off.Load() }

// Drain makes Read return io.EOF once it has read to the end of the file
// instead of waiting for more, and release the file then. For a plugin that
// has exited.
func (fl *Follower) Drain() {
	fl.draining.Store(true)
	fl.endOnce.Do(func() { close(fl.end) })
}

// Stop ends the Follower at once: a blocked Read returns ErrStopped, and so
// does every later one. It releases the file and the watch; it is safe to
// call more than once and while Read runs.
func (fl *Follower) Stop() {
	fl.stopped.Store(true)
	fl.endOnce.Do(func() { close(fl.end) })
	fl.release()
}

// release removes the watch and closes the file (a concurrent ReadAt then
// fails, which Read reports as the end). Called by Stop and at a drained end.
func (fl *Follower) release() {
	fl.closeOnce.Do(func() {
		if fl.wd >= 0 {
			shared.remove(fl.wd, fl.notify)
		}
		if fl.f != nil {
			_ = fl.f.Close()
		}
	})
}

// OnPunchError sets a function called once, from Read's goroutine, if the
// filesystem refuses to free the blocks behind the read offset.
func (fl *Follower) OnPunchError(f func(error)) {
	fl.mu.Lock()
	fl.onPunch = f
	fl.mu.Unlock()
}

// PunchErr is the error with which freeing blocks failed, or nil.
func (fl *Follower) PunchErr() error {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	return fl.punchErr
}

// Read reads what follows Offset, blocking at the end of the file until more
// is appended, Drain was called (then io.EOF at the end) or Stop was called
// (then ErrStopped). It returns at least one byte or an error, never 0, nil,
// so it serves a bufio.Reader.
func (fl *Follower) Read(p []byte) (int, error) {
	if fl.openErr != nil {
		return 0, fl.openErr
	}
	if len(p) == 0 {
		return 0, nil
	}
	var poll *time.Timer
	defer func() {
		if poll != nil {
			poll.Stop()
		}
	}()
	for {
		if fl.stopped.Load() {
			return 0, ErrStopped
		}
		// Drain is looked at before reading, so that what was appended
		// before it is read.
		draining := fl.draining.Load()
		off := fl.off.Load()
		n, err := fl.f.ReadAt(p, off)
		if n > 0 {
			fl.off.Store(off + int64(n))
			fl.punch(off + int64(n))
			return n, nil
		}
		switch {
		case fl.stopped.Load():
			return 0, ErrStopped
		case err != nil && err != io.EOF:
			return 0, fmt.Errorf("spool %s: %w", fl.path, err)
		case draining:
			fl.release()
			return 0, io.EOF
		}
		d := safetyPoll
		if fl.wd < 0 {
			d = fallbackPoll
		}
		if poll == nil {
			poll = time.NewTimer(d)
		} else {
			poll.Reset(d)
		}
		select {
		case <-fl.notify:
		case <-fl.end:
		case <-poll.C:
		}
	}
}

// punch frees the whole PunchChunks behind off, the new read offset.
func (fl *Follower) punch(off int64) {
	upTo := off - off%PunchChunk
	if upTo <= fl.punched || fl.PunchErr() != nil {
		return
	}
	var err error
	ctlErr := fl.control(func(fd int) {
		err = punchHole(fd, fl.punched, upTo-fl.punched)
	})
	if ctlErr != nil {
		return // closed by Stop
	}
	if err == nil {
		fl.punched = upTo
		return
	}
	if errors.Is(err, errNoHoles) {
		err = fmt.Errorf("spool %s: %w (%v)", fl.path, ErrPunchUnsupported, err)
	} else {
		err = fmt.Errorf("spool %s: freeing read blocks: %w", fl.path, err)
	}
	fl.mu.Lock()
	fl.punchErr = err
	f := fl.onPunch
	fl.mu.Unlock()
	if f != nil {
		f(err)
	}
}

// control runs f on the file's descriptor, which a concurrent Stop cannot
// close meanwhile (so f never touches a reused descriptor number).
func (fl *Follower) control(f func(fd int)) error {
	rc, err := fl.f.SyscallConn()
	if err != nil {
		return err
	}
	return rc.Control(func(fd uintptr) { f(int(fd)) })
}

// useWatcher is false in tests of the fallback poll.
var useWatcher = true
