package main

import "golang.org/x/sys/unix"

// procctl(2) arguments: idtype P_PID (sys/wait.h) and command
// PROC_REAP_ACQUIRE (sys/procctl.h). golang.org/x/sys has the system call
// number but no wrapper.
const (
	idtypePID       = 0
	procReapAcquire = 2
)

// becomeSubreaper makes the shim a reaper (procctl PROC_REAP_ACQUIRE, the
// FreeBSD counterpart of Linux's child subreaper): the task's orphaned
// descendants become its children, which it reaps.
func becomeSubreaper() {
	_, _, _ = unix.Syscall6(unix.SYS_PROCCTL, idtypePID, uintptr(unix.Getpid()), procReapAcquire, 0, 0, 0)
}
