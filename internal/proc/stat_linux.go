package proc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrBadStat is wrapped by StartTime's error when /proc/PID/stat does not
// have the expected shape.
var ErrBadStat = errors.New("malformed /proc/PID/stat")

// processGone reports, after ReadStat found no /proc/PID, whether the
// process is really gone: /proc may not be mounted, and then kill(2) with
// signal 0, which only checks the process exists, says.
func processGone(pid int) bool {
	if _, err := os.Stat("/proc/self/stat"); err == nil {
		return true
	}
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// ReadStat reads /proc/PID/stat. A missing process gives an error
// wrapping fs.ErrNotExist.
func ReadStat(pid int) (Stat, error) {
	if pid <= 0 {
		return Stat{}, fmt.Errorf("pid %d: %w", pid, ErrProcessGone)
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return Stat{}, err
	}
	st, err := parseStat(b)
	if err != nil {
		return Stat{}, fmt.Errorf("pid %d: %w", pid, err)
	}
	return st, nil
}

// parseStartTime reads field 22 from the content of a /proc/PID/stat.
func parseStartTime(stat []byte) (uint64, error) {
	st, err := parseStat(stat)
	return st.StartTime, err
}

// parseStat reads fields 3 and 22 from the content of a /proc/PID/stat.
// The command name, field 2, is in parentheses and may itself hold spaces
// and parentheses, so the fields are counted from the last ')'.
func parseStat(stat []byte) (Stat, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || bytes.IndexByte(stat, '(') < 0 || bytes.IndexByte(stat, '(') > i {
		return Stat{}, fmt.Errorf("%w: no command name in parentheses", ErrBadStat)
	}
	// After ')' come fields 3 (state) onwards: field 22 is the 20th.
	f := bytes.Fields(stat[i+1:])
	const idx = 22 - 3
	if len(f) <= idx {
		return Stat{}, fmt.Errorf("%w: %d fields after the command name, want at least %d", ErrBadStat, len(f), idx+1)
	}
	v, err := strconv.ParseUint(string(f[idx]), 10, 64)
	if err != nil {
		return Stat{}, fmt.Errorf("%w: start time %q", ErrBadStat, f[idx])
	}
	return Stat{State: f[0][0], StartTime: v}, nil
}

// userHZ is the unit of /proc/PID/stat's times: USER_HZ, 100 on Linux.
const userHZ = 100

// Started is when the process that started at ticks (a StartTime) began,
// in wall-clock time: the boot time from /proc/stat plus the ticks.
func Started(ticks uint64) (time.Time, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "btime "); ok {
			boot, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return time.Time{}, fmt.Errorf("/proc/stat btime: %w", err)
			}
			return time.Unix(boot, 0).Add(time.Duration(ticks) * time.Second / userHZ), nil
		}
	}
	return time.Time{}, errors.New("/proc/stat has no btime")
}
