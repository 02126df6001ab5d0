package proc

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ErrNotSameProcess is wrapped by Adopt's error when the pid is alive but
// its start time is not the recorded one: the pid was reused by a process
// tether did not start. Nothing was signalled.
var ErrNotSameProcess = errors.New("pid belongs to another process (start time differs)")

// ErrProcessGone is wrapped by Adopt's error when no process has the pid, and
// by Signal's once the adopted process has exited.
var ErrProcessGone = errors.New("no such process")

// ErrNotExited is wrapped by Terminate's error when an adopted process had
// not exited within the bound after SIGKILL.
var ErrNotExited = errors.New("process did not exit after SIGKILL")

// Adopted is a process tether started in an earlier host, and so not a child
// of this one, held through a pidfd: signals go to that very process, never
// to another that got its pid after it exited. Its exit status cannot be
// known (its parent, not this host, reaps it). Methods are safe for
// concurrent use.
type Adopted struct {
	pid   int
	start uint64
	pidfd *os.File

	exited chan struct{}
	loop   chan struct{} // closed when the watching goroutine has ended
	once   sync.Once
}

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
	a.pidfd = os.NewFile(uintptr(fd), fmt.Sprintf("pidfd:%d", pid))
	go a.watch()
	return a, nil
}

// checkStart compares pid's start time with want.
func checkStart(pid int, want uint64) error {
	got, err := StartTime(pid)
	switch {
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrProcessGone):
		return fmt.Errorf("pid %d: %w", pid, ErrProcessGone)
	case err != nil:
		return err
	case got != want:
		return fmt.Errorf("pid %d started at tick %d, recorded %d: %w", pid, got, want, ErrNotSameProcess)
	}
	return nil
}

// watch closes exited when the pidfd becomes readable (the process exited),
// or just ends when Release closes the pidfd.
func (a *Adopted) watch() {
	defer close(a.loop)
	rc, err := a.pidfd.SyscallConn()
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

// Pid is the process id.
func (a *Adopted) Pid() int { return a.pid }

// StartTime is the verified start time.
func (a *Adopted) StartTime() uint64 { return a.start }

// Exited is closed once the process has exited.
func (a *Adopted) Exited() <-chan struct{} { return a.exited }

// Signal sends sig to the process through its pidfd (only the process, not
// its group: the group id could be reused once the leader is gone). After
// the exit, or after Release, it returns an error wrapping ErrProcessGone
// or os.ErrClosed and signals nothing.
func (a *Adopted) Signal(sig syscall.Signal) error {
	if a.hasExited() { // a zombie still takes signals; it has no use for them
		return fmt.Errorf("pid %d: %w", a.pid, ErrProcessGone)
	}
	rc, err := a.pidfd.SyscallConn()
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

// Terminate sends SIGTERM, waits up to killTimeout (or until ctx ends) for
// the exit, then sends SIGKILL and waits up to a few seconds more. It
// returns nil once the process has exited; an error wrapping ctx.Err() if
// ctx ended first (the process is still killed); one wrapping ErrNotExited
// if it outlived SIGKILL's bound. It does not Release.
func (a *Adopted) Terminate(ctx context.Context, killTimeout time.Duration) error {
	if a.hasExited() {
		return nil
	}
	_ = a.Signal(syscall.SIGTERM)
	t := time.NewTimer(killTimeout)
	defer t.Stop()
	var ctxErr error
	select {
	case <-a.exited:
		return nil
	case <-t.C:
	case <-ctx.Done():
		ctxErr = ctx.Err()
	}
	_ = a.Signal(syscall.SIGKILL)
	k := time.NewTimer(reapSlack)
	defer k.Stop()
	select {
	case <-a.exited:
	case <-k.C:
		return fmt.Errorf("pid %d: %w within %v", a.pid, ErrNotExited, reapSlack)
	}
	if ctxErr != nil {
		return fmt.Errorf("pid %d did not exit on SIGTERM before the context ended, killed: %w", a.pid, ctxErr)
	}
	return nil
}

func (a *Adopted) hasExited() bool {
	select {
	case <-a.exited:
		return true
	default:
		return false
	}
}

// Release lets go of the process without signalling it: the pidfd is
// closed and its watching goroutine ended. Signal fails afterwards, and
// Exited closes only if the process had exited before.
func (a *Adopted) Release() {
	a.once.Do(func() {
		_ = a.pidfd.Close()
		<-a.loop
	})
}
