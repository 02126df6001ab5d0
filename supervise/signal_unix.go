//go:build unix

package supervise

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// signalName is the signal's name as kill(1) and the shells print it:
// SIGKILL, SIGTERM.
func signalName(s syscall.Signal) string {
	if n := unix.SignalName(s); n != "" {
		return n
	}
	return s.String()
}
