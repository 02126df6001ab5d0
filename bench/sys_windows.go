package bench

import (
	"os"
	"os/exec"
	"time"

	"golang.org/x/sys/windows"
)

// terminate stops a server process: Windows has no SIGTERM, so it is
// killed (TerminateProcess, exit code 1).
func terminate(p *os.Process) error { return p.Kill() }

// terminated reports an exit caused by terminate: exit code 1.
func terminated(ee *exec.ExitError) bool { return ee.ExitCode() == 1 }

// hostCPU is this process's user and kernel CPU time so far
// (GetProcessTimes), or 0.
func hostCPU() time.Duration {
	var created, exited, kernel, user windows.Filetime
	if windows.GetProcessTimes(windows.CurrentProcess(), &created, &exited, &kernel, &user) != nil {
		return 0
	}
	// Filetime counts 100 ns units; Nanoseconds would subtract the 1601 epoch.
	ticks := func(ft windows.Filetime) int64 { return int64(ft.HighDateTime)<<32 | int64(ft.LowDateTime) }
	return time.Duration(ticks(kernel)+ticks(user)) * 100
}
