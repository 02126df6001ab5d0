package proc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
)

// ErrBadStat is wrapped by StartTime's error when /proc/PID/stat does not
// have the expected shape.
var ErrBadStat = errors.New("malformed /proc/PID/stat")

// StartTime is the time process pid started, in clock ticks since boot
// (field 22 of /proc/PID/stat). With the pid it names one process for the
// machine's uptime: a reused pid has another start time. A missing process
// gives an error wrapping fs.ErrNotExist.
func StartTime(pid int) (uint64, error) {
	if pid <= 0 {
		return 0, fmt.Errorf("pid %d: %w", pid, ErrProcessGone)
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	st, err := parseStartTime(b)
	if err != nil {
		return 0, fmt.Errorf("pid %d: %w", pid, err)
	}
	return st, nil
}

// parseStartTime reads field 22 from the content of a /proc/PID/stat. The
// command name, field 2, is in parentheses and may itself hold spaces and
// parentheses, so the fields are counted from the last ')'.
func parseStartTime(stat []byte) (uint64, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || bytes.IndexByte(stat, '(') < 0 || bytes.IndexByte(stat, '(') > i {
		return 0, fmt.Errorf("%w: no command name in parentheses", ErrBadStat)
	}
	// After ')' come fields 3 (state) onwards: field 22 is the 20th.
	f := bytes.Fields(stat[i+1:])
	const idx = 22 - 3
	if len(f) <= idx {
		return 0, fmt.Errorf("%w: %d fields after the command name, want at least %d", ErrBadStat, len(f), idx+1)
	}
	v, err := strconv.ParseUint(string(f[idx]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: start time %q", ErrBadStat, f[idx])
	}
	return v, nil
}
