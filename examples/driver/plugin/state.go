package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
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
// treat it as opaque. Process start times (in the OS's unit: see startTime)
// guard against a pid reused by an unrelated process.
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

func defaultTaskRoot() string {
	return filepath.Join(os.TempDir(), "tether-driver-"+strconv.Itoa(os.Getuid()))
}
