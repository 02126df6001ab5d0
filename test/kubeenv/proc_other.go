//go:build !linux

package kubeenv

import "syscall"

// sysProcAttr puts a control-plane process in its own process group. Outside
// Linux there is no parent-death signal: Stop (or Main) must run for the
// processes to end.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
