package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// cpuTicksPerSecond is the unit of a sample's CPU times: /proc's clock ticks.
const cpuTicksPerSecond = clockTicks

// takeSample reads /proc/PID/stat for CPU times and /proc/PID/status for
// memory, if pid is still the process that started at start.
func takeSample(pid int, start uint64) (*sample, error) {
	ps, err := readProcStat(pid)
	if err != nil {
		return nil, err
	}
	if ps.startTicks != start {
		return nil, fmt.Errorf("process %d is no longer the task", pid)
	}
	s := &sample{at: time.Now(), utime: ps.utime, stime: ps.stime}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return nil, err
	}
	mem := parseStatusKB(b, "VmRSS", "VmSize", "VmSwap")
	s.rss, s.vsize, s.swap = mem["VmRSS"], mem["VmSize"], mem["VmSwap"]
	return s, nil
}

// parseStatusKB returns the named "Key:   N kB" lines of a
// /proc/PID/status file, in bytes. Missing keys (kernel threads, zombies)
// are absent.
func parseStatusKB(b []byte, keys ...string) map[string]uint64 {
	out := map[string]uint64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || !slices.Contains(keys, k) {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 2 && f[1] == "kB" {
			if n, err := strconv.ParseUint(f[0], 10, 64); err == nil {
				out[k] = n * 1024
			}
		}
	}
	return out
}
