package main

import (
	"encoding/binary"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// cpuTicksPerSecond is the unit of a sample's CPU times: the microseconds of
// struct rusage.
const cpuTicksPerSecond = 1e6

// Offsets in FreeBSD's struct kinfo_proc (sys/user.h) on LP64 machines
// (amd64, arm64), whose size, KINFO_PROC_SIZE, is 1088 there.
// golang.org/x/sys has no KinfoProc for FreeBSD; the size and the pid are
// checked before the other fields are believed (as tether's internal/proc
// does for the start time).
const (
	kinfoSize   = 1088
	kinfoPid    = 72  // ki_pid, int32
	kinfoVMSize = 256 // ki_size, virtual size in bytes, uint64
	kinfoRSS    = 264 // ki_rssize, resident pages, int64
	kinfoRusage = 608 // ki_rusage: ru_utime then ru_stime, each int64 seconds and microseconds
)

// takeSample reads sysctl kern.proc.pid for the task's CPU times (its
// struct rusage) and memory (virtual size, resident pages), if pid is
// still the process that started at start. FreeBSD reports no per-process
// swap use there: swap is 0.
func takeSample(pid int, start uint64) (*sample, error) {
	if startTime(pid) != start {
		return nil, fmt.Errorf("process %d is no longer the task", pid)
	}
	b, err := unix.SysctlRaw("kern.proc.pid", pid)
	if err != nil {
		return nil, fmt.Errorf("process %d: sysctl kern.proc.pid: %w", pid, err)
	}
	le := binary.LittleEndian // amd64 and arm64
	if len(b) < kinfoSize || le.Uint32(b) != kinfoSize || int(int32(le.Uint32(b[kinfoPid:]))) != pid {
		return nil, fmt.Errorf("process %d: unexpected struct kinfo_proc from sysctl kern.proc.pid (%d bytes)", pid, len(b))
	}
	micros := func(off int) uint64 { return le.Uint64(b[off:])*1e6 + le.Uint64(b[off+8:]) }
	return &sample{
		at:    time.Now(),
		utime: micros(kinfoRusage),
		stime: micros(kinfoRusage + 16),
		vsize: le.Uint64(b[kinfoVMSize:]),
		rss:   le.Uint64(b[kinfoRSS:]) * uint64(os.Getpagesize()),
	}, nil
}
