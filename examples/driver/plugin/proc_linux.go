package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// On Linux the driver reads a process's state, CPU times and start time
// from /proc/PID/stat: start times are clock ticks after boot (field 22).

// procStat is what the driver reads from /proc/PID/stat.
type procStat struct {
	state      byte
	utime      uint64 // clock ticks in user mode
	stime      uint64 // clock ticks in kernel mode
	startTicks uint64 // start time, clock ticks after boot
}

// clockTicks is USER_HZ, the unit of /proc's times: 100 on every Linux
// architecture Go supports.
const clockTicks = 100

func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	// The command name, field 2, is in parentheses and may hold spaces and
	// parentheses: the fields proper start after the last ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 { // f[0] is field 3 (state), f[19] field 22 (starttime)
		return procStat{}, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	var ps procStat
	ps.state = f[0][0]
	for _, p := range []struct {
		dst *uint64
		i   int
	}{{&ps.utime, 11}, {&ps.stime, 12}, {&ps.startTicks, 19}} {
		if *p.dst, err = strconv.ParseUint(f[p.i], 10, 64); err != nil {
			return procStat{}, fmt.Errorf("/proc/%d/stat: %v", pid, err)
		}
	}
	return ps, nil
}

// startTime is a process's start time, or 0 when it is gone.
func startTime(pid int) uint64 {
	ps, err := readProcStat(pid)
	if err != nil {
		return 0
	}
	return ps.startTicks
}

// alive reports whether pid is still the process that started at start and
// has not exited (a zombie has exited).
func alive(pid int, start uint64) bool {
	ps, err := readProcStat(pid)
	return err == nil && ps.startTicks == start && ps.state != 'Z' && ps.state != 'X'
}
