//go:build unix

package bench

import (
	"errors"
	"syscall"
)

// processExists returns nil while process pid exists (a zombie does), and
// an error once it was reaped: kill(2) with signal 0, which sends nothing.
func processExists(pid int) error {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}
