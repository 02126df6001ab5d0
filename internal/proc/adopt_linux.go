package proc

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// adoptHandle is a pidfd.
type adoptHandle = *os.File

// Adopt takes hold of process pid if its start time (StartTime) is
// startTime: it checks, opens a pidfd, and checks again, so that a pid
// reused between the first check and the open is caught. A mismatch gives
// an error wrapping ErrNotSameProcess, a missing process one wrapping
// ErrProcessGone; in neither case is anything signalled. Release the
// Adopted when done with it, unless Exited has closed.
func Adopt(pid int, startTime uint64) (*Adopted, error) {
	if err := checkStart(pid, startTime); err != nil {
		return nil, err
	}
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return nil, fmt.Errorf("pid %d: %w", pid, ErrProcessGone)
		}
		return nil, fmt.Errorf("pid %d: %w", pid, os.NewSyscallError("pidfd_open", err))
	}
	// The pidfd now names one process for good: if that is still the one
	// recorded, it is the one signalled.
	if err := checkStart(pid, startTime); err != nil {
		_ = unix.Close(fd)
		return nil, err
	}
	a := &Adopted{pid: pid, start: startTime, exited: make(chan struct{}), loop: make(chan struct{})}
	// Non-blocking, so the runtime's poller watches it: no thread waits.
	a.h = os.NewFile(uintptr(fd), fmt.Sprintf("pidfd:%d", pid))
	go a.watch()
	return a, nil
}

// watch closes exited when the pidfd becomes readable (the process exited),
// or just ends when Release closes the pidfd.
func (a *Adopted) watch() {
	defer close(a.loop)
	rc, err := a.h.SyscallConn()
	if err != nil {
		return
	}
	err = rc.Read(func(fd uintptr) bool {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, 0)
		return err == nil && n > 0 || err != nil && err != unix.EINTR
	})
	if err == nil {
		close(a.exited)
	}
}

// Signal sends sig to the process through its pidfd (only the process, not
// its group: the group id could be reused once the leader is gone). After
// the exit, or after Release, it returns an error wrapping ErrProcessGone
// or os.ErrClosed and signals nothing.
func (a *Adopted) Signal(sig syscall.Signal) error {
	if a.hasExited() { // a zombie still takes signals; it has no use for them
		return fmt.Errorf("pid %d: %w", a.pid, ErrProcessGone)
	}
	rc, err := a.h.SyscallConn()
	if err != nil {
		return err
	}
	var sigErr error
	if err := rc.Control(func(fd uintptr) {
		sigErr = unix.PidfdSendSignal(int(fd), sig, nil, 0)
	}); err != nil {
		return fmt.Errorf("pid %d: %w", a.pid, err)
	}
	if errors.Is(sigErr, unix.ESRCH) {
		return fmt.Errorf("pid %d: %w", a.pid, ErrProcessGone)
	}
	if sigErr != nil {
		return fmt.Errorf("pid %d: %w", a.pid, os.NewSyscallError("pidfd_send_signal", sigErr))
	}
	return nil
}

// Release lets go of the process without signalling it: the pidfd is
// closed and its watching goroutine ended. Signal fails afterwards, and
// Exited closes only if the process had exited before.
func (a *Adopted) Release() {
	a.once.Do(func() {
		_ = a.h.Close()
		<-a.loop
	})
}
