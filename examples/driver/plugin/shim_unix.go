//go:build unix

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// startTimeout bounds how long StartTask waits for the shim's report.
const startTimeout = 10 * time.Second

// shimReport is the one line the shim writes to the driver once the task
// started, or failed to.
type shimReport struct {
	TaskPID   int    `json:"task_pid"`
	TaskStart uint64 `json:"task_start"`
	Error     string `json:"error,omitempty"`
}

// runShim supervises one task: "driver shim TASK_DIR". The driver starts it
// in a session of its own, so it is not in the plugin's process group and
// does not die with the plugin. It runs the task described by TASK_DIR's
// spec file in a process group of its own with stdout and stderr in log
// files, reports the task's pid on file descriptor 3, forwards the signals
// it receives to the task, waits for the task to end, kills what is left of
// the task's process group, and writes the exit to the exit file. Its
// output goes to shim.log.
func runShim(taskDir string) int {
	report := os.NewFile(3, "report")
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "shim:", err)
		if report != nil {
			_ = json.NewEncoder(report).Encode(shimReport{Error: err.Error()})
		}
		return 1
	}
	var spec shimSpec
	if err := readJSON(filepath.Join(taskDir, specFile), &spec); err != nil {
		return fail(err)
	}
	// Where the OS allows, orphaned descendants of the task become our
	// children, so that we can reap them instead of leaving zombies to an
	// init that may not.
	becomeSubreaper()

	cmd := exec.Command(spec.Command, spec.Args...)
	cmd.Env = spec.Env
	cmd.Dir = spec.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var err error
	if cmd.Stdout, err = openLog(filepath.Join(taskDir, stdoutFile)); err != nil {
		return fail(err)
	}
	if cmd.Stderr, err = openLog(filepath.Join(taskDir, stderrFile)); err != nil {
		return fail(err)
	}
	// Caught (not ignored) signals: the task starts with default handlers.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT,
		syscall.SIGUSR1, syscall.SIGUSR2)
	if err := cmd.Start(); err != nil {
		return fail(err)
	}
	pid := cmd.Process.Pid
	if err := json.NewEncoder(report).Encode(shimReport{TaskPID: pid, TaskStart: startTime(pid)}); err != nil {
		fmt.Fprintln(os.Stderr, "shim: cannot report to the driver:", err)
	}
	_ = report.Close()
	go func() {
		for sig := range sigs {
			_ = syscall.Kill(-pid, sig.(syscall.Signal))
		}
	}()

	rec := exitRecord{ExitCode: -1}
	if err := waitKeepZombie(pid); err != nil {
		rec.Error = "waiting for the task: " + err.Error()
	}
	// The task's zombie still holds its pid, so the group id is not reused
	// yet: kill whatever the task left running in its group, then reap.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	err = cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		rec.Error = "waiting for the task: " + err.Error()
	}
	if cmd.ProcessState != nil {
		rec.ExitCode, rec.Signal = exitStatus(cmd.ProcessState)
		rec.Error = ""
	}
	rec.CompletedAt = time.Now().UTC()
	if err := writeJSONAtomic(filepath.Join(taskDir, exitFile), rec); err != nil {
		return fail(err)
	}
	reapOrphans(time.Second)
	return 0
}

// startShim runs "SELF shim DIR" in a new session, so that it is neither in
// the plugin's process group nor killed with it, and waits for its report.
func (d *localDriver) startShim(dir string) (driverState, error) {
	st := driverState{TaskDir: dir}
	r, w, err := os.Pipe()
	if err != nil {
		return st, status.Errorf(codes.Unavailable, "pipe: %v", err)
	}
	defer r.Close()
	logf, err := openLog(filepath.Join(dir, shimLog))
	if err != nil {
		w.Close()
		return st, status.Errorf(codes.Unavailable, "shim log: %v", err)
	}
	cmd := exec.Command(d.self, shimArg, dir)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	w.Close()
	logf.Close()
	if err != nil {
		return st, status.Errorf(codes.Unavailable, "cannot start the shim: %v", err)
	}
	st.ShimPID, st.ShimStart = cmd.Process.Pid, startTime(cmd.Process.Pid)
	// While this driver lives the shim is its child: reap it when it ends.
	go func() { _ = cmd.Wait() }()

	var rep shimReport
	_ = r.SetReadDeadline(time.Now().Add(startTimeout))
	if err := json.NewDecoder(r).Decode(&rep); err != nil {
		_ = syscall.Kill(-st.ShimPID, syscall.SIGKILL)
		out, _ := os.ReadFile(filepath.Join(dir, shimLog))
		return st, status.Errorf(codes.Unavailable, "the shim did not report the task's start (%v): %s", err, out)
	}
	if rep.Error != "" {
		return st, status.Errorf(codes.InvalidArgument, "cannot start the task: %s", rep.Error)
	}
	st.TaskPID, st.TaskStart = rep.TaskPID, rep.TaskStart
	return st, nil
}

func openLog(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
}

// reapOrphans reaps children the shim adopted (killed descendants of the
// task), for at most d. Descendants that left the task's process group and
// still run are not waited for.
func reapOrphans(d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
		switch {
		case err == syscall.ECHILD:
			return
		case err == nil && pid > 0:
			continue
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// exitStatus is an exit code and signal name as ExitResult reports them:
// a process killed by signal N has code 128+N.
func exitStatus(ps *os.ProcessState) (int32, string) {
	ws, ok := ps.Sys().(syscall.WaitStatus)
	if ok && ws.Signaled() {
		return 128 + int32(ws.Signal()), unix.SignalName(ws.Signal())
	}
	return int32(ps.ExitCode()), ""
}
