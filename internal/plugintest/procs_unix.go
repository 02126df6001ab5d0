//go:build unix

package plugintest

import (
	"errors"
	"syscall"
)

// Reaped reports whether no process pid exists any more (exited and
// waited for).
func Reaped(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}
