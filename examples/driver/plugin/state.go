package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	driverv1 "github.com/tetherplug/tether/examples/driver/driverpb/v1"
)

// Files in a task directory.
const (
	specFile   = "spec.json"  // what the shim runs; written by the driver
	exitFile   = "exit.json"  // how the task ended; written by the shim
	stdoutFile = "stdout.log" // the task's stdout
	stderrFile = "stderr.log" // the task's stderr
	shimLog    = "shim.log"   // the shim's own output
	localDir   = "local"      // the default working directory
)

// driverState is a handle's driver_state: enough to find a task again from
// another driver process. It is JSON so that people can read it; hosts must
// treat it as opaque. Process start times (clock ticks after boot, field 22
// of /proc/PID/stat) guard against a pid reused by an unrelated process.
type driverState struct {
	TaskDir   string `json:"task_dir"`
	ShimPID   int    `json:"shim_pid"`
	ShimStart uint64 `json:"shim_start"`
	TaskPID   int    `json:"task_pid"`
	TaskStart uint64 `json:"task_start"`
}

func decodeState(b []byte) (driverState, error) {
	var s driverState
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("driver_state is not this driver's: %v", err)
	}
	if !filepath.IsAbs(s.TaskDir) || filepath.Clean(s.TaskDir) != s.TaskDir || s.ShimPID <= 0 || s.TaskPID <= 0 {
		return s, errors.New("driver_state is incomplete")
	}
	return s, nil
}

// shimSpec is what the shim runs, resolved by the driver: the full
// environment and an absolute working directory.
type shimSpec struct {
	ID      string   `json:"id"`
	Command string   `json:"command"`
	Args    []string `json:"args"`
	Env     []string `json:"env"`
	Dir     string   `json:"dir"`
}

// shimReport is the one line the shim writes to the driver once the task
// started, or failed to.
type shimReport struct {
	TaskPID   int    `json:"task_pid"`
	TaskStart uint64 `json:"task_start"`
	Error     string `json:"error,omitempty"`
}

// exitRecord is the exit file's content.
type exitRecord struct {
	ExitCode    int32     `json:"exit_code"`
	Signal      string    `json:"signal,omitempty"`
	Error       string    `json:"error,omitempty"`
	CompletedAt time.Time `json:"completed_at"`
}

func (r exitRecord) result() *driverv1.ExitResult {
	return &driverv1.ExitResult{ExitCode: r.ExitCode, Signal: r.Signal, Error: r.Error}
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// writeJSONAtomic writes v to path so that readers see either nothing or
// all of it: a temporary file, synced, then renamed over path.
func writeJSONAtomic(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
	}
	return err
}

// readExit returns the task's exit record, if the shim wrote one.
func readExit(taskDir string) (exitRecord, bool) {
	var r exitRecord
	err := readJSON(filepath.Join(taskDir, exitFile), &r)
	return r, err == nil
}

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

// signalGroup sends sig to the process group pid leads, if pid is still the
// process that started at start.
func signalGroup(pid int, start uint64, sig syscall.Signal) error {
	if !alive(pid, start) {
		return syscall.ESRCH
	}
	if err := syscall.Kill(-pid, sig); err != nil {
		return syscall.Kill(pid, sig)
	}
	return nil
}

func defaultTaskRoot() string {
	return filepath.Join(os.TempDir(), "tether-driver-"+strconv.Itoa(os.Getuid()))
}
