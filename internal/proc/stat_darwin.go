package proc

import (
	"fmt"
	"io/fs"
	"time"

	"golang.org/x/sys/unix"
)

// ReadStat reads what sysctl kern.proc.pid says of pid: its state and its
// start time in microseconds since the epoch. A missing process gives an
// error wrapping fs.ErrNotExist.
func ReadStat(pid int) (Stat, error) {
	if pid <= 0 {
		return Stat{}, fmt.Errorf("pid %d: %w", pid, ErrProcessGone)
	}
	kps, err := unix.SysctlKinfoProcSlice("kern.proc.pid", pid)
	if err != nil {
		return Stat{}, fmt.Errorf("pid %d: sysctl kern.proc.pid: %w", pid, err)
	}
	if len(kps) == 0 || int(kps[0].Proc.P_pid) != pid {
		return Stat{}, fmt.Errorf("pid %d: %w", pid, fs.ErrNotExist)
	}
	p := kps[0].Proc
	st := Stat{State: 'R', StartTime: uint64(p.P_starttime.Sec)*1e6 + uint64(p.P_starttime.Usec)}
	if p.P_stat == szomb {
		st.State = 'Z'
	}
	return st, nil
}

// szomb is the state of a process awaiting its parent's wait (SZOMB).
const szomb = 5

// processGone reports, after ReadStat found no such process, that it is
// gone: sysctl sees every process.
func processGone(int) bool { return true }

// Started is when the process that started at start (a StartTime,
// microseconds since the epoch) began.
func Started(start uint64) (time.Time, error) { return time.UnixMicro(int64(start)), nil }
