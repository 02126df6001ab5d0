package proc

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/windows"
)

// adoptHandle is a handle on the process: while it is open the pid names
// that very process, so, as with a pidfd, nothing else is ever terminated.
type adoptHandle struct {
	mu      *sync.Mutex // held while the handle is used or closed
	h       windows.Handle
	release chan struct{}
}

// close closes the handle once no Signal uses it.
func (a *Adopted) closeHandle() {
	a.h.mu.Lock()
	defer a.h.mu.Unlock()
	_ = windows.CloseHandle(a.h.h)
	a.h.h = 0
}

// Adopt takes hold of process pid if its creation time (StartTime) is
// startTime: it opens the process, then checks the time through that
// handle. A mismatch gives an error wrapping ErrNotSameProcess, a missing
// process one wrapping ErrProcessGone. Release the Adopted when done with
// it, unless Exited has closed.
func Adopt(pid int, startTime uint64) (*Adopted, error) {
	const access = windows.SYNCHRONIZE | windows.PROCESS_TERMINATE | windows.PROCESS_QUERY_LIMITED_INFORMATION
	h, err := windows.OpenProcess(access, false, uint32(pid))
	if errors.Is(err, windows.ERROR_INVALID_PARAMETER) {
		return nil, fmt.Errorf("pid %d: %w", pid, ErrProcessGone)
	}
	if err != nil {
		return nil, fmt.Errorf("pid %d: %w", pid, os.NewSyscallError("OpenProcess", err))
	}
	st, err := statHandle(h, pid)
	switch {
	case err != nil:
	case st.Exited():
		err = fmt.Errorf("pid %d: %w", pid, ErrProcessGone)
	case st.StartTime != startTime:
		err = fmt.Errorf("pid %d started at %d, recorded %d: %w", pid, st.StartTime, startTime, ErrNotSameProcess)
	}
	if err != nil {
		_ = windows.CloseHandle(h)
		return nil, err
	}
	a := &Adopted{pid: pid, start: startTime, exited: make(chan struct{}), loop: make(chan struct{}),
		h: adoptHandle{mu: new(sync.Mutex), h: h, release: make(chan struct{})}}
	go a.watch()
	return a, nil
}

// watch closes exited when the process handle is signalled, or ends on
// Release; then it closes the handle.
func (a *Adopted) watch() {
	defer close(a.loop)
	defer a.closeHandle()
	for {
		select {
		case <-a.h.release:
			return
		default:
		}
		ev, err := windows.WaitForSingleObject(a.h.h, uint32(releasePoll/time.Millisecond))
		switch {
		case err != nil:
			return
		case ev == windows.WAIT_OBJECT_0:
			close(a.exited)
			return
		}
	}
}

// Signal terminates the process on SIGKILL. Windows has no other signals:
// any other gives an error wrapping errors.ErrUnsupported (a graceful stop
// goes through the plugin's Shutdown RPC). After the exit, or after
// Release, it returns an error wrapping ErrProcessGone.
func (a *Adopted) Signal(sig syscall.Signal) error {
	if a.hasExited() || a.released() {
		return fmt.Errorf("pid %d: %w", a.pid, ErrProcessGone)
	}
	if sig != syscall.SIGKILL {
		return fmt.Errorf("pid %d: signal %v: %w", a.pid, sig, errors.ErrUnsupported)
	}
	a.h.mu.Lock()
	defer a.h.mu.Unlock()
	if a.h.h == 0 {
		return fmt.Errorf("pid %d: %w", a.pid, ErrProcessGone)
	}
	if err := windows.TerminateProcess(a.h.h, 1); err != nil {
		return fmt.Errorf("pid %d: %w", a.pid, os.NewSyscallError("TerminateProcess", err))
	}
	return nil
}
