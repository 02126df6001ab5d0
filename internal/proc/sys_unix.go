//go:build unix

package proc

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// On Unix the program leads a process group of its own, signals go to the
// whole group, and the host pipe is the child's descriptor 3.

// sysProc is what a Unix host keeps of a process besides its pid: nothing.
type sysProc struct{}

// started is called once the process has started; it cannot fail here.
func (sysProc) started(pid int, dieWithHost bool) error { return nil }

// release is called once the process has been reaped.
func (sysProc) release() {}

// signal sends sig to the process group of p, or to p alone if it left
// its group.
func (sysProc) signal(p *os.Process, sig syscall.Signal) {
	if err := unix.Kill(-p.Pid, sig); err == unix.ESRCH {
		_ = p.Signal(sig)
	}
}

// hostPipe makes the host pipe: its read end becomes the child's descriptor
// 3 (the first of ExtraFiles), named by EnvHostPipe in env.
func hostPipe(env []string) (r, w *os.File, _ []string, err error) {
	r, w, err = os.Pipe()
	if err != nil {
		return nil, nil, env, err
	}
	return r, w, append(env, EnvHostPipe+"=3"), nil
}
