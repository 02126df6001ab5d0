package proc

import (
	"errors"
	"fmt"
	"io/fs"
)

// StartTime is when process pid started, in the OS's own unit (Linux: clock
// ticks since boot, field 22 of the process's stat file; macOS and FreeBSD:
// microseconds since the epoch, from sysctl kern.proc.pid; Windows: the
// creation time in 100 ns units since 1601). With the pid it names one
// process: a reused pid has another start time. It is compared only with
// values read on the same machine. A missing process gives an error
// wrapping fs.ErrNotExist.
func StartTime(pid int) (uint64, error) {
	st, err := ReadStat(pid)
	return st.StartTime, err
}

// Stat is what the OS says of a process.
type Stat struct {
	// State is Linux's state letter (R, S, D, T, Z for a zombie, X for
	// dead...); elsewhere 'Z' for a process that has exited and awaits its
	// parent's wait, 'R' for any other.
	State     byte
	StartTime uint64 // as StartTime returns it
}

// Exited reports a process that has ended and awaits (or is past) its
// parent's wait.
func (s Stat) Exited() bool { return s.State == 'Z' || s.State == 'X' }

// Check says why process pid is not the plugin's any more: gone,
// exited, or another process under a reused pid (its start time is not
// start, when start is known). It sends no signal.
func Check(pid int, start uint64) error {
	st, err := ReadStat(pid)
	switch {
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrProcessGone):
		if processGone(pid) {
			return fmt.Errorf("its process %d is gone", pid)
		}
		return nil
	case err != nil:
		return nil // unreadable: the connection will tell
	case st.Exited():
		return fmt.Errorf("its process %d has exited", pid)
	case start != 0 && st.StartTime != start:
		return fmt.Errorf("its pid %d now belongs to another process (started at %d, the config says %d)", pid, st.StartTime, start)
	}
	return nil
}
