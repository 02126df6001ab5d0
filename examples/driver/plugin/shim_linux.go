package main

import "golang.org/x/sys/unix"

// becomeSubreaper makes the shim a child subreaper
// (PR_SET_CHILD_SUBREAPER): the task's orphaned descendants become its
// children, which it reaps.
func becomeSubreaper() {
	_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
}

// waitKeepZombie waits for pid to exit without reaping it.
func waitKeepZombie(pid int) error {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			return err
		}
	}
}
