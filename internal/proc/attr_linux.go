package proc

import (
	"strconv"
	"syscall"
)

// dieWithParent has the kernel send the child SIGTERM when the thread that
// started it ends (Linux's parent-death signal).
func dieWithParent(attr *syscall.SysProcAttr) { attr.Pdeathsig = syscall.SIGTERM }

// childFDPath is the path through which a program started with an extra
// descriptor fd executes the file open there: the checked binary itself,
// whatever now sits at its path.
func childFDPath(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }
