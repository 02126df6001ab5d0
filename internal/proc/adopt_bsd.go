//go:build darwin || freebsd

package proc

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// adoptHandle is a kqueue watching the process's exit (EVFILT_PROC
// NOTE_EXIT, which works for a process that is not a child). There is no
// pidfd here: a signal goes to the pid after its start time is checked
// again, which leaves a window of microseconds in which a pid freed and
// reused would be signalled (docs/platforms.md).
type adoptHandle struct {
	kq      int
	release chan struct{}
}

// Adopt takes hold of process pid if its start time (StartTime) is
// startTime, and watches its exit with kqueue. A mismatch gives an error
// wrapping ErrNotSameProcess, a missing process one wrapping ErrProcessGone;
// in neither case is anything signalled. Release the Adopted when done with
// it, unless Exited has closed.
func Adopt(pid int, startTime uint64) (*Adopted, error) {
	if err := checkStart(pid, startTime); err != nil {
		return nil, err
	}
	kq, err := unix.Kqueue()
	if err != nil {
		return nil, fmt.Errorf("pid %d: %w", pid, os.NewSyscallError("kqueue", err))
	}
	var ev unix.Kevent_t
	unix.SetKevent(&ev, pid, unix.EVFILT_PROC, unix.EV_ADD|unix.EV_ONESHOT)
	ev.Fflags = unix.NOTE_EXIT
	if _, err := unix.Kevent(kq, []unix.Kevent_t{ev}, nil, nil); err != nil {
		_ = unix.Close(kq)
		if errors.Is(err, unix.ESRCH) {
			return nil, fmt.Errorf("pid %d: %w", pid, ErrProcessGone)
		}
		return nil, fmt.Errorf("pid %d: %w", pid, os.NewSyscallError("kevent", err))
	}
	// The watch is on: if the pid is still the recorded process, its exit
	// will be seen.
	if err := checkStart(pid, startTime); err != nil {
		_ = unix.Close(kq)
		return nil, err
	}
	a := &Adopted{pid: pid, start: startTime, exited: make(chan struct{}), loop: make(chan struct{}),
		h: adoptHandle{kq: kq, release: make(chan struct{})}}
	go a.watch()
	return a, nil
}

// watch closes exited when kqueue reports the exit, or ends on Release. It
// waits in kevent with a timeout, so that Release is noticed within
// releasePoll.
func (a *Adopted) watch() {
	defer close(a.loop)
	defer func() { _ = unix.Close(a.h.kq) }()
	timeout := unix.NsecToTimespec(int64(releasePoll))
	out := make([]unix.Kevent_t, 1)
	for {
		select {
		case <-a.h.release:
			return
		default:
		}
		n, err := unix.Kevent(a.h.kq, nil, out, &timeout)
		if err == unix.EINTR || err == nil && n == 0 {
			continue
		}
		if err == nil {
			close(a.exited)
		}
		return
	}
}

// Signal sends sig to the process (not its group: the group id could be
// reused once the leader is gone) after checking its start time once more.
// After the exit, or after Release, it returns an error wrapping
// ErrProcessGone and signals nothing.
func (a *Adopted) Signal(sig syscall.Signal) error {
	if a.hasExited() || a.released() {
		return fmt.Errorf("pid %d: %w", a.pid, ErrProcessGone)
	}
	if err := checkStart(a.pid, a.start); err != nil {
		return err
	}
	if err := unix.Kill(a.pid, sig); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("pid %d: %w", a.pid, ErrProcessGone)
		}
		return fmt.Errorf("pid %d: %w", a.pid, os.NewSyscallError("kill", err))
	}
	return nil
}
