//go:build unix && !linux

package proc

import (
	"errors"
	"syscall"
)

// Without /proc, these are weaker than on Linux: a zombie counts as alive
// and as a member of its group until its parent (or init, for an orphan)
// reaps it.

// alive reports whether pid exists.
func alive(pid int) bool {
	return !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// groupMembers reports whether process group pgid has a member: the
// negated pgid (so that killing it kills the group), or none.
func groupMembers(pgid int) []int {
	if errors.Is(syscall.Kill(-pgid, 0), syscall.ESRCH) {
		return nil
	}
	return []int{-pgid}
}
