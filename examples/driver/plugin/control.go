package main

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tetherplug/tether"
	driverv1 "github.com/tetherplug/tether/examples/driver/driverpb/v1"
)

// StopTask signals the task, waits up to the timeout, then kills it.
func (d *localDriver) StopTask(ctx context.Context, req *driverv1.StopTaskRequest) (*driverv1.StopTaskResponse, error) {
	sig := syscall.SIGTERM
	if req.GetSignal() != "" {
		var err error
		if sig, err = parseSignal(req.GetSignal()); err != nil {
			return nil, err
		}
	}
	t, err := d.lookup(req.GetTaskId())
	if err != nil {
		return nil, err
	}
	if rec, ok := t.exited(); ok {
		return &driverv1.StopTaskResponse{Result: rec.result()}, nil
	}
	if signalGroup(t.st.TaskPID, t.st.TaskStart, sig) == nil {
		d.events.publish(t.cfg.GetId(), "signalled", "sent "+signalName(sig), map[string]string{"signal": signalName(sig)})
	}
	ended, err := waitEnd(ctx, t, req.GetTimeout().AsDuration())
	if err != nil {
		return nil, err
	}
	if ended {
		return &driverv1.StopTaskResponse{Result: t.exit.result()}, nil
	}
	if err := d.kill(ctx, t); err != nil {
		return nil, err
	}
	return &driverv1.StopTaskResponse{Killed: true, Result: t.exit.result()}, nil
}

// kill sends SIGKILL to the task's process group and waits for its end.
func (d *localDriver) kill(ctx context.Context, t *task) error {
	if signalGroup(t.st.TaskPID, t.st.TaskStart, syscall.SIGKILL) == nil {
		d.events.publish(t.cfg.GetId(), "killed", "sent SIGKILL", map[string]string{"signal": "SIGKILL"})
	}
	ended, err := waitEnd(ctx, t, killWait)
	if err != nil {
		return err
	}
	if !ended {
		return status.Errorf(codes.DeadlineExceeded, "task %q did not end within %v of SIGKILL", t.cfg.GetId(), killWait)
	}
	return nil
}

// DestroyTask kills the task if forced, then forgets it and removes its
// directory.
func (d *localDriver) DestroyTask(ctx context.Context, req *driverv1.DestroyTaskRequest) (*driverv1.DestroyTaskResponse, error) {
	t, err := d.lookup(req.GetTaskId())
	if err != nil {
		return nil, err
	}
	if _, ok := t.exited(); !ok {
		if !req.GetForce() {
			return nil, status.Errorf(codes.FailedPrecondition, "task %q is running: stop it first, or destroy it with force", req.GetTaskId())
		}
		if err := d.kill(ctx, t); err != nil {
			return nil, err
		}
	}
	// A task whose shim was lost may still run: it dies with its record.
	_ = signalGroup(t.st.TaskPID, t.st.TaskStart, syscall.SIGKILL)

	// The id stays reserved until the directory is gone, so that a new
	// task of the same id cannot collide with it.
	d.mu.Lock()
	if d.tasks[req.GetTaskId()] != t {
		d.mu.Unlock()
		return nil, status.Errorf(codes.NotFound, "no task %q", req.GetTaskId())
	}
	d.tasks[req.GetTaskId()] = nil
	d.mu.Unlock()
	close(t.gone)
	if err := os.RemoveAll(t.st.TaskDir); err != nil {
		d.log.Warn("cannot remove a task directory", "task", req.GetTaskId(), "dir", t.st.TaskDir, "error", err)
	}
	d.settle(req.GetTaskId(), nil)
	d.events.publish(req.GetTaskId(), "destroyed", "task destroyed", nil)
	return &driverv1.DestroyTaskResponse{}, nil
}

// InspectTask describes a task.
func (d *localDriver) InspectTask(_ context.Context, req *driverv1.InspectTaskRequest) (*driverv1.InspectTaskResponse, error) {
	t, err := d.lookup(req.GetTaskId())
	if err != nil {
		return nil, err
	}
	resp := &driverv1.InspectTaskResponse{
		Config: t.cfg, State: driverv1.TaskState_TASK_STATE_RUNNING,
		StartedAt: timestamppb.New(t.started), Pid: int32(t.st.TaskPID),
		Attributes: map[string]string{
			"task_dir":    t.st.TaskDir,
			"working_dir": t.spec.Dir,
			"stdout_path": filepath.Join(t.st.TaskDir, stdoutFile),
			"stderr_path": filepath.Join(t.st.TaskDir, stderrFile),
			"shim_pid":    fmt.Sprint(t.st.ShimPID),
		},
	}
	if rec, ok := t.exited(); ok {
		resp.State = driverv1.TaskState_TASK_STATE_EXITED
		resp.CompletedAt = timestamppb.New(rec.CompletedAt)
		resp.Result = rec.result()
	}
	return resp, nil
}

// SignalTask sends a signal to the task's process group.
func (d *localDriver) SignalTask(_ context.Context, req *driverv1.SignalTaskRequest) (*driverv1.SignalTaskResponse, error) {
	sig, err := parseSignal(req.GetSignal())
	if err != nil {
		return nil, err
	}
	t, err := d.lookup(req.GetTaskId())
	if err != nil {
		return nil, err
	}
	if _, ok := t.exited(); ok {
		return nil, status.Errorf(codes.FailedPrecondition, "task %q has ended", req.GetTaskId())
	}
	if err := signalGroup(t.st.TaskPID, t.st.TaskStart, sig); err != nil {
		return nil, status.Errorf(codes.FailedPrecondition, "task %q: %v", req.GetTaskId(), err)
	}
	d.events.publish(t.cfg.GetId(), "signalled", "sent "+signalName(sig), map[string]string{"signal": signalName(sig)})
	return &driverv1.SignalTaskResponse{}, nil
}

// launchVars are variables of tether's launch handshake: the plugin's, not
// its tasks'.
var launchVars = []string{
	tether.EnvProtocolVersions, tether.EnvClientCert, tether.EnvUnixSocketDir, tether.EnvMultiplexGRPC,
	tether.EnvOwnSocketDir, tether.EnvHostPipe, tether.EnvOutlive, tether.DefaultMagicCookieKey,
}

// taskEnv is the driver's environment without tether's launch variables,
// with extra added and overriding, in a stable order.
func taskEnv(extra map[string]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if _, over := extra[k]; !over && !slices.Contains(launchVars, k) {
			env = append(env, kv)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(extra)) {
		env = append(env, k+"="+extra[k])
	}
	return env
}
