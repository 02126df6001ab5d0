package proc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"golang.org/x/sys/unix"
)

// ErrBadStat is wrapped by StartTime's error when sysctl kern.proc.pid does
// not return the struct kinfo_proc this package knows.
var ErrBadStat = errors.New("unexpected struct kinfo_proc from sysctl kern.proc.pid")

// Offsets in FreeBSD's struct kinfo_proc (sys/user.h) on LP64 machines
// (amd64, arm64), whose size, KINFO_PROC_SIZE, is 1088 there.
// golang.org/x/sys has no KinfoProc for FreeBSD; the size and the pid
// field are checked before the others are believed.
const (
	kinfoSize     = 1088
	kinfoPid      = 72  // ki_pid, int32
	kinfoStartSec = 336 // ki_start.tv_sec, int64; tv_usec follows
	kinfoStat     = 388 // ki_stat, char
)

// ReadStat reads what sysctl kern.proc.pid says of pid: its state and its
// start time in microseconds since the epoch. A missing process gives an
// error wrapping fs.ErrNotExist.
func ReadStat(pid int) (Stat, error) {
	if pid <= 0 {
		return Stat{}, fmt.Errorf("pid %d: %w", pid, ErrProcessGone)
	}
	b, err := unix.SysctlRaw("kern.proc.pid", pid)
	if errors.Is(err, unix.ESRCH) || err == nil && len(b) == 0 {
		return Stat{}, fmt.Errorf("pid %d: %w", pid, fs.ErrNotExist)
	}
	if err != nil {
		return Stat{}, fmt.Errorf("pid %d: sysctl kern.proc.pid: %w", pid, err)
	}
	le := binary.LittleEndian // amd64 and arm64
	if len(b) < kinfoSize || le.Uint32(b) != kinfoSize || int(int32(le.Uint32(b[kinfoPid:]))) != pid {
		return Stat{}, fmt.Errorf("pid %d: %w (%d bytes)", pid, ErrBadStat, len(b))
	}
	sec, usec := le.Uint64(b[kinfoStartSec:]), le.Uint64(b[kinfoStartSec+8:])
	st := Stat{State: 'R', StartTime: sec*1e6 + usec}
	if b[kinfoStat] == szomb {
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
