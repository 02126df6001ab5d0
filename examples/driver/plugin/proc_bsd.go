//go:build darwin || freebsd

package main

import "github.com/tetherplug/tether/internal/proc"

// On macOS and FreeBSD there is no /proc to read: a process's state and
// start time (microseconds since the epoch) come from sysctl kern.proc.pid,
// through tether's internal/proc (FreeBSD's struct kinfo_proc is not in
// golang.org/x/sys: that package checks its size and offsets). A program
// outside this module would copy that code or use golang.org/x/sys/unix's
// SysctlKinfoProc on macOS.

// startTime is a process's start time, or 0 when it is gone.
func startTime(pid int) uint64 {
	st, err := proc.ReadStat(pid)
	if err != nil {
		return 0
	}
	return st.StartTime
}

// alive reports whether pid is still the process that started at start and
// has not exited (a zombie has exited).
func alive(pid int, start uint64) bool {
	st, err := proc.ReadStat(pid)
	return err == nil && st.StartTime == start && !st.Exited()
}
