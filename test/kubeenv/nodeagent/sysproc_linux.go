package nodeagent

import "syscall"

// containerSysProcAttr puts a container in a process group of its own (so
// that stopping it reaches what it started) and has the kernel kill it if
// the agent dies.
func containerSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
