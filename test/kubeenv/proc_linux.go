package kubeenv

import "syscall"

// sysProcAttr puts a control-plane process in its own process group and has
// the kernel kill it when the thread that started it (so the test binary)
// dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
