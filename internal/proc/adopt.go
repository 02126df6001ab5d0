package proc

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"
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
// of this one, held through the OS's most reliable handle on it (see
// docs/platforms.md): on Linux a process descriptor, so that signals go to that very
// process, never to another that got its pid after it exited. Its exit status cannot be
// known (its parent, not this host, reaps it). Methods are safe for
// concurrent use.
type Adopted struct {
	pid   int
	start uint64
	h     adoptHandle // what the OS holds the process by

	exited chan struct{}
	loop   chan struct{} // closed when the watching goroutine has ended
	once   sync.Once
}

// Pid is the process id.
func (a *Adopted) Pid() int { return a.pid }

// StartTime is the verified start time.
func (a *Adopted) StartTime() uint64 { return a.start }

// Exited is closed once the process has exited.
func (a *Adopted) Exited() <-chan struct{} { return a.exited }

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
