package plugintest

import "os"

// Process checks for leak tests. Reaped is exact on every OS. Exited and
// MarkedProcesses read the process table on Linux (procs_linux.go); elsewhere they are
// weaker (procs_other.go): Exited is Reaped (a zombie left for another
// parent counts as not exited), and MarkedProcesses finds nothing, so a
// leak check built on it passes vacuously there.

// Kill kills process pid: SIGKILL on Unix, TerminateProcess on Windows.
func Kill(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	defer func() { _ = p.Release() }()
	return p.Kill()
}
