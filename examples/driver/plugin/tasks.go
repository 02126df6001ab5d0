package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	driverv1 "github.com/tetherplug/tether/examples/driver/driverpb/v1"
)

const (
	// pollInterval is how often a task's watcher looks for its exit file.
	pollInterval = 50 * time.Millisecond
	// killWait bounds how long the driver waits for a task to end after
	// SIGKILL.
	killWait = 10 * time.Second
	// handleVersion is the TaskHandle format this driver writes.
	handleVersion = 1
)

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// task is a task this driver process knows about, started or recovered.
type task struct {
	cfg     *driverv1.TaskConfig
	st      driverState
	spec    shimSpec
	started time.Time

	exit exitRecord    // set before done is closed
	done chan struct{} // closed once the task ended
	gone chan struct{} // closed when the task is destroyed
}

func newTask(cfg *driverv1.TaskConfig, st driverState, spec shimSpec, started time.Time) *task {
	return &task{cfg: cfg, st: st, spec: spec, started: started,
		done: make(chan struct{}), gone: make(chan struct{})}
}

// exited returns the task's exit once it ended.
func (t *task) exited() (exitRecord, bool) {
	select {
	case <-t.done:
		return t.exit, true
	default:
		return exitRecord{}, false
	}
}

func validateConfig(cfg *driverv1.TaskConfig) error {
	switch {
	case cfg == nil:
		return status.Error(codes.InvalidArgument, "config is missing")
	case !idPattern.MatchString(cfg.GetId()):
		return status.Errorf(codes.InvalidArgument, "task id %q: use 1 to 128 letters, digits, '.', '_' or '-'", cfg.GetId())
	case cfg.GetCommand() == "":
		return status.Error(codes.InvalidArgument, "command is empty")
	case cfg.GetWorkingDir() != "" && !filepath.IsAbs(cfg.GetWorkingDir()):
		return status.Errorf(codes.InvalidArgument, "working_dir %q is not an absolute path", cfg.GetWorkingDir())
	}
	return nil
}

// lookup returns a known task or a NotFound error.
func (d *localDriver) lookup(id string) (*task, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if t := d.tasks[id]; t != nil {
		return t, nil
	}
	return nil, status.Errorf(codes.NotFound, "no task %q", id)
}

// reserve claims id for a task being started or recovered; a reserved id
// maps to nil.
func (d *localDriver) reserve(id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.tasks[id]; ok {
		return status.Errorf(codes.AlreadyExists, "task %q already exists", id)
	}
	d.tasks[id] = nil
	return nil
}

// settle replaces a reservation with the task, or drops it when t is nil.
func (d *localDriver) settle(id string, t *task) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if t == nil {
		delete(d.tasks, id)
	} else {
		d.tasks[id] = t
	}
}

// StartTask creates the task's directory, starts its shim and returns the
// handle once the shim reports the task's pid.
func (d *localDriver) StartTask(_ context.Context, req *driverv1.StartTaskRequest) (*driverv1.StartTaskResponse, error) {
	if err := tasksUnsupported(); err != nil {
		return nil, status.Error(codes.Unimplemented, err.Error())
	}
	cfg := req.GetConfig()
	if err := validateConfig(cfg); err != nil {
		return nil, err
	}
	if err := d.reserve(cfg.GetId()); err != nil {
		return nil, err
	}
	t, err := d.start(cfg)
	d.settle(cfg.GetId(), t)
	if err != nil {
		return nil, err
	}
	go d.watch(t)
	d.events.publish(cfg.GetId(), "started", "task started", map[string]string{"pid": fmt.Sprint(t.st.TaskPID)})
	state, _ := json.Marshal(t.st)
	return &driverv1.StartTaskResponse{Handle: &driverv1.TaskHandle{
		Version: handleVersion, Config: cfg, DriverState: state, StartedAt: timestamppb.New(t.started)}}, nil
}

func (d *localDriver) start(cfg *driverv1.TaskConfig) (t *task, err error) {
	if err := os.MkdirAll(d.root, 0o755); err != nil {
		return nil, status.Errorf(codes.Unavailable, "task root: %v", err)
	}
	dir := filepath.Join(d.root, cfg.GetId())
	if err := os.Mkdir(dir, 0o755); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, status.Errorf(codes.AlreadyExists, "task directory %s exists: recover or remove that task first", dir)
		}
		return nil, status.Errorf(codes.Unavailable, "task directory: %v", err)
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(dir)
		}
	}()
	spec := shimSpec{ID: cfg.GetId(), Command: cfg.GetCommand(), Args: cfg.GetArgs(),
		Env: taskEnv(cfg.GetEnv()), Dir: cfg.GetWorkingDir()}
	if spec.Dir == "" {
		spec.Dir = filepath.Join(dir, localDir)
		if err := os.Mkdir(spec.Dir, 0o755); err != nil {
			return nil, status.Errorf(codes.Unavailable, "working directory: %v", err)
		}
	}
	if err := writeJSONAtomic(filepath.Join(dir, specFile), spec); err != nil {
		return nil, status.Errorf(codes.Unavailable, "task spec: %v", err)
	}
	st, err := d.startShim(dir)
	if err != nil {
		return nil, err
	}
	return newTask(cfg, st, spec, time.Now()), nil
}

// RecoverTask re-attaches to a task from its handle.
func (d *localDriver) RecoverTask(_ context.Context, req *driverv1.RecoverTaskRequest) (*driverv1.RecoverTaskResponse, error) {
	if err := tasksUnsupported(); err != nil {
		return nil, status.Error(codes.Unimplemented, err.Error())
	}
	h := req.GetHandle()
	cfg := h.GetConfig()
	if err := validateConfig(cfg); err != nil {
		return nil, err
	}
	if h.GetVersion() != handleVersion {
		return nil, status.Errorf(codes.InvalidArgument, "handle version %d: this driver reads version %d", h.GetVersion(), handleVersion)
	}
	st, err := decodeState(h.GetDriverState())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	var spec shimSpec
	if err := readJSON(filepath.Join(st.TaskDir, specFile), &spec); err != nil {
		return nil, status.Errorf(codes.NotFound, "task %q: its directory is gone or unreadable: %v", cfg.GetId(), err)
	}
	if spec.ID != cfg.GetId() {
		return nil, status.Errorf(codes.InvalidArgument, "the handle names task %q but its directory holds task %q", cfg.GetId(), spec.ID)
	}
	d.mu.Lock()
	if old, ok := d.tasks[cfg.GetId()]; ok {
		d.mu.Unlock()
		if old != nil && old.st == st {
			return &driverv1.RecoverTaskResponse{}, nil
		}
		return nil, status.Errorf(codes.AlreadyExists, "task %q already exists", cfg.GetId())
	}
	t := newTask(cfg, st, spec, h.GetStartedAt().AsTime())
	d.tasks[cfg.GetId()] = t
	d.mu.Unlock()

	d.events.publish(cfg.GetId(), "recovered", "task recovered", map[string]string{"pid": fmt.Sprint(st.TaskPID)})
	if !d.poll(t) {
		go d.watch(t)
	}
	return &driverv1.RecoverTaskResponse{}, nil
}

// watch polls a task until it ends or is destroyed.
func (d *localDriver) watch(t *task) {
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for !d.poll(t) {
		select {
		case <-t.gone:
			return
		case <-tick.C:
		}
	}
}

// poll looks for the task's exit once; it reports whether the task ended.
// A shim that is gone without an exit file means the exit is lost.
func (d *localDriver) poll(t *task) bool {
	rec, ok := readExit(t.st.TaskDir)
	if !ok && !alive(t.st.ShimPID, t.st.ShimStart) {
		if rec, ok = readExit(t.st.TaskDir); !ok {
			rec = exitRecord{ExitCode: -1, CompletedAt: time.Now().UTC(),
				Error: "the task's shim ended without recording the task's exit"}
		}
		ok = true
	}
	if !ok {
		return false
	}
	// Publish first: whoever sees the task ended (WaitTask) and acts on it
	// publishes events that come after this one.
	d.events.publish(t.cfg.GetId(), "exited", exitMessage(rec), map[string]string{
		"exit_code": fmt.Sprint(rec.ExitCode), "signal": rec.Signal, "error": rec.Error})
	t.exit = rec
	close(t.done)
	return true
}

func exitMessage(r exitRecord) string {
	switch {
	case r.Error != "":
		return "task exit unknown: " + r.Error
	case r.Signal != "":
		return "task killed by " + r.Signal
	}
	return fmt.Sprintf("task exited with code %d", r.ExitCode)
}

// WaitTask waits for the task's end.
func (d *localDriver) WaitTask(ctx context.Context, req *driverv1.WaitTaskRequest) (*driverv1.WaitTaskResponse, error) {
	t, err := d.lookup(req.GetTaskId())
	if err != nil {
		return nil, err
	}
	select {
	case <-t.done:
		return &driverv1.WaitTaskResponse{Result: t.exit.result()}, nil
	case <-t.gone:
		return nil, status.Errorf(codes.NotFound, "task %q was destroyed", req.GetTaskId())
	case <-ctx.Done():
		return nil, status.FromContextError(ctx.Err()).Err()
	}
}

// waitEnd waits up to d for the task to end.
func waitEnd(ctx context.Context, t *task, d time.Duration) (bool, error) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-t.done:
		return true, nil
	case <-timer.C:
		return false, nil
	case <-ctx.Done():
		return false, status.FromContextError(ctx.Err()).Err()
	}
}
