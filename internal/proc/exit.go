package proc

import (
	"context"
	"fmt"
	"syscall"
	"time"
)

// reapSlack is how much longer than KillTimeout Terminate waits for the
// reap after SIGKILL.
const reapSlack = 2 * time.Second

// wait follows the process to its end. The exit is detected without reaping
// (waitid with WNOWAIT), so that until the reap the pid, which is also the
// process group id, cannot be taken by a process tether did not start: only
// then is it safe to signal the group. With DieWithHost the rest of the group
// is killed in that window. The exit is reported once stderr is drained, or
// KillTimeout after the exit if something still holds it open.
func (p *Process) wait() {
	exitSeen := p.sys.awaitExit(p.Pid())
	grace := make(chan struct{})
	t := time.AfterFunc(p.killTimeout, func() { close(grace) })
	defer t.Stop()
	drained := func() {
		select {
		case <-p.stderrDone:
		case <-grace:
		}
	}
	if exitSeen {
		p.spool.drain() // files never close: read to their end, then stop
	}
	if p.dieWithHost && exitSeen {
		p.Signal(syscall.SIGTERM)
		drained() // those holding stderr go; others get no more time
		p.Signal(syscall.SIGKILL)
	}
	drained()
	p.mu.Lock()
	p.reaped = true
	p.waitErr = p.cmd.Wait()
	p.mu.Unlock()
	p.exitCode = p.cmd.ProcessState.ExitCode()
	p.sys.release()
	p.closeHostPipe()
	removeDir(p.dir)
	removeDir(p.copyDir)
	close(p.exited)
	// Whatever still holds the pipes (a process that left the group) must
	// not keep the readers, and their goroutines, forever.
	time.AfterFunc(p.killTimeout, func() {
		if p.spool != nil {
			p.spool.stop()
			return
		}
		_ = p.outR.Close()
		_ = p.errR.Close()
	})
}

// Exited is closed once the process has been reaped, its stderr drained
// (bounded by KillTimeout after the exit) and Spec.Dir removed.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// HasExited reports whether Exited is closed.
func (p *Process) HasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// WaitExit waits up to d for Exited and reports whether it came.
func (p *Process) WaitExit(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.exited:
		return true
	case <-t.C:
		return false
	}
}

// ExitCode is, after Exited, the exit status, or -1 when a signal ended the
// process. Before Exited it is -1.
func (p *Process) ExitCode() int {
	if !p.HasExited() {
		return -1
	}
	return p.exitCode
}

// WaitErr is, after Exited, what exec.Cmd.Wait returned (nil for status 0,
// "exit status 3", "signal: killed"). Before Exited it is nil.
func (p *Process) WaitErr() error {
	if !p.HasExited() {
		return nil
	}
	return p.waitErr
}

// Signal sends sig to the process group, so that what the plugin started
// goes with it, as long as that is safe: until the process is reaped. After
// that it does nothing, so it never reaches a process tether did not start.
func (p *Process) Signal(sig syscall.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.reaped {
		return
	}
	p.sys.signal(p.cmd.Process, sig)
}

// Terminate stops the process: it closes the host pipe, sends SIGTERM to
// the group, waits up to step (or until ctx ends), then sends SIGKILL and
// waits for the reap. It returns nil once the process is gone; an error
// wrapping ctx.Err() if ctx ended before the process exited on SIGTERM (it
// is still killed and reaped); an error wrapping ErrNotReaped if even
// SIGKILL did not lead to a reap within KillTimeout plus a few seconds.
func (p *Process) Terminate(ctx context.Context, step time.Duration) error {
	p.closeHostPipe()
	if p.HasExited() {
		return nil
	}
	p.Signal(syscall.SIGTERM)
	t := time.NewTimer(step)
	defer t.Stop()
	var ctxErr error
	select {
	case <-p.exited:
		return nil
	case <-t.C:
	case <-ctx.Done():
		if !p.HasExited() {
			ctxErr = ctx.Err()
		}
	}
	p.Signal(syscall.SIGKILL)
	if !p.WaitExit(p.killTimeout + reapSlack) {
		return fmt.Errorf("pid %d: %w within %v", p.Pid(), ErrNotReaped, p.killTimeout+reapSlack)
	}
	if ctxErr != nil {
		return fmt.Errorf("pid %d did not exit on SIGTERM before the context ended, killed: %w", p.Pid(), ctxErr)
	}
	return nil
}
