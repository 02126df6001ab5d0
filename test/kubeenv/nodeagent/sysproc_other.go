//go:build unix && !linux

package nodeagent

import "syscall"

// containerSysProcAttr puts a container in a process group of its own (so
// that stopping it reaches what it started). Only Linux can also have a
// container killed when the agent dies.
func containerSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
