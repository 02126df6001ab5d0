package proc

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// Check says why process pid is not the plugin's any more: gone,
// exited, or another process under a reused pid (its start time is not
// start, when start is known). It sends no signal: without /proc it asks
// kill(2) with signal 0, which only checks the process exists.
func Check(pid int, start uint64) error {
	st, err := ReadStat(pid)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if _, serr := os.Stat("/proc/self/stat"); serr == nil {
			return fmt.Errorf("its process %d is gone", pid)
		}
		if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			return fmt.Errorf("its process %d is gone", pid)
		}
		return nil
	case err != nil:
		return nil // unreadable: the connection will tell
	case st.Exited():
		return fmt.Errorf("its process %d has exited", pid)
	case start != 0 && st.StartTime != start:
		return fmt.Errorf("its pid %d now belongs to another process (started at tick %d, the config says %d)", pid, st.StartTime, start)
	}
	return nil
}
