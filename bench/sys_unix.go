//go:build unix

package bench

import (
	"os"
	"os/exec"
	"syscall"
	"time"
)

// terminate asks a server process to stop: SIGTERM.
func terminate(p *os.Process) error { return p.Signal(syscall.SIGTERM) }

// terminated reports an exit caused by terminate: death by SIGTERM (the
// servers do not catch it).
func terminated(ee *exec.ExitError) bool {
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGTERM
}

// hostCPU is this process's user and system CPU time so far.
func hostCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
