package proc

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// sysProcAttr puts the program in a process group of its own; with
// dieWithHost the kernel also sends it SIGTERM when the thread that started
// it ends (Linux's parent-death signal).
func sysProcAttr(dieWithHost bool) *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Setpgid: true}
	if dieWithHost {
		attr.Pdeathsig = syscall.SIGTERM
	}
	return attr
}

// awaitExit returns true once pid has exited, leaving it unreaped; false if
// waitid failed (the process may still be running: its group must not be
// killed, and cmd.Wait will say what is wrong). Linux sees a child's exit
// with waitid(WNOWAIT), so its pid (its process group id too) cannot be
// reused while the rest of the group is signalled.
func (sysProc) awaitExit(pid int) bool {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			return err == nil
		}
	}
}
