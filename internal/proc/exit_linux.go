package proc

import "golang.org/x/sys/unix"

// Linux sees a child's exit with waitid(WNOWAIT), which leaves it
// unreaped, so its pid (its process group id too) cannot be reused while
// the rest of the group is signalled.

// awaitExit returns true once pid has exited, leaving it unreaped; false if
// waitid failed (the process may still be running: its group must not be
// killed, and cmd.Wait will say what is wrong).
func awaitExit(pid int) bool {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			return err == nil
		}
	}
}
