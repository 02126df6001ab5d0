//go:build unix

package statefile

import (
	"io/fs"
	"syscall"
)

// openFlags are added to every OpenFile: no following a symbolic link, no
// blocking on a FIFO, no leaking into children.
const openFlags = syscall.O_NOFOLLOW | syscall.O_NONBLOCK | syscall.O_CLOEXEC

// owner is the user id that owns fi.
func owner(fi fs.FileInfo) (int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}
