package proc

import (
	"errors"
	"fmt"
	"io/fs"
	"time"

	"golang.org/x/sys/windows"
)

// stillActive is the exit code GetExitCodeProcess gives a running process.
const stillActive = 259

// ReadStat opens process pid and reads its creation time (100 ns units
// since 1601) and whether it has exited. A missing process gives an error
// wrapping fs.ErrNotExist.
func ReadStat(pid int) (Stat, error) {
	if pid <= 0 {
		return Stat{}, fmt.Errorf("pid %d: %w", pid, ErrProcessGone)
	}
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, uint32(pid))
	if errors.Is(err, windows.ERROR_INVALID_PARAMETER) {
		return Stat{}, fmt.Errorf("pid %d: %w", pid, fs.ErrNotExist)
	}
	if err != nil {
		return Stat{}, fmt.Errorf("pid %d: OpenProcess: %w", pid, err)
	}
	defer func() { _ = windows.CloseHandle(h) }()
	return statHandle(h, pid)
}

// statHandle reads the creation time and the state of the process h.
func statHandle(h windows.Handle, pid int) (Stat, error) {
	var created, exited, kernel, user windows.Filetime
	if err := windows.GetProcessTimes(h, &created, &exited, &kernel, &user); err != nil {
		return Stat{}, fmt.Errorf("pid %d: GetProcessTimes: %w", pid, err)
	}
	st := Stat{State: 'R', StartTime: uint64(created.HighDateTime)<<32 | uint64(created.LowDateTime)}
	var code uint32
	if err := windows.GetExitCodeProcess(h, &code); err == nil && code != stillActive {
		st.State = 'Z'
	}
	return st, nil
}

// processGone reports, after ReadStat found no such process, that it is
// gone.
func processGone(int) bool { return true }

// Started is when the process that started at start (a StartTime) began.
func Started(start uint64) (time.Time, error) {
	ft := windows.Filetime{LowDateTime: uint32(start), HighDateTime: uint32(start >> 32)}
	return time.Unix(0, ft.Nanoseconds()), nil
}
