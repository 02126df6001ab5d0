//go:build linux

package driver_test

import (
	"syscall"
	"testing"
	"time"

	driverv1 "github.com/tetherplug/tether/examples/driver/driverpb/v1"

	"github.com/tetherplug/tether/tethertest"
)

// crash kills a driver plugin with SIGKILL and waits until it is gone. It
// kills the plugin's whole process group (tether starts a plugin as a group
// leader), as Client.Kill's escalation does: tasks must not be in it.
func crash(t *testing.T, c interface {
	Pid() int
	Exited() <-chan struct{}
}) {
	t.Helper()
	if err := syscall.Kill(-c.Pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Exited():
	case <-time.After(bound):
		t.Fatal("the killed driver did not exit")
	}
}

func TestRecoverTaskAfterDriverCrash(t *testing.T) {
	ctx := testContext(t)
	root := t.TempDir()
	first, dc := launch(t, root)
	cfg, fifo := fifoTask(t, "survivor")
	resp, err := dc.StartTask(ctx, &driverv1.StartTaskRequest{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	handle := resp.GetHandle() // what a host keeps
	task, shim := taskProcs(t, ctx, dc, "survivor")

	crash(t, first)
	if !task.running() || !shim.running() {
		t.Fatal("the task died with its driver")
	}

	_, dc = launch(t, root)
	if _, err := dc.RecoverTask(ctx, &driverv1.RecoverTaskRequest{Handle: handle}); err != nil {
		t.Fatal(err)
	}
	if _, err := dc.RecoverTask(ctx, &driverv1.RecoverTaskRequest{Handle: handle}); err != nil {
		t.Fatalf("recovering twice: %v", err)
	}
	info, err := dc.InspectTask(ctx, &driverv1.InspectTaskRequest{TaskId: "survivor"})
	if err != nil {
		t.Fatal(err)
	}
	if info.GetState() != driverv1.TaskState_TASK_STATE_RUNNING || int(info.GetPid()) != task.pid {
		t.Fatalf("recovered task: %v", info)
	}

	waited := make(chan *driverv1.WaitTaskResponse, 1)
	go func() {
		w, err := dc.WaitTask(ctx, &driverv1.WaitTaskRequest{TaskId: "survivor"})
		if err != nil {
			t.Error(err)
		}
		waited <- w
	}()
	release(t, fifo, "7")
	w := tethertest.Recv(t, waited, 30*time.Second)
	if w.GetResult().GetExitCode() != 7 || w.GetResult().GetError() != "" {
		t.Fatalf("exit after recovery: %v, want code 7", w.GetResult())
	}
	if _, err := dc.DestroyTask(ctx, &driverv1.DestroyTaskRequest{TaskId: "survivor"}); err != nil {
		t.Fatal(err)
	}
	requireGone(t, task, shim)
}

func TestRecoverTaskThatEndedWhileNoDriverRan(t *testing.T) {
	ctx := testContext(t)
	root := t.TempDir()
	first, dc := launch(t, root)
	cfg, fifo := fifoTask(t, "finished")
	resp, err := dc.StartTask(ctx, &driverv1.StartTaskRequest{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	task, shim := taskProcs(t, ctx, dc, "finished")
	crash(t, first)
	release(t, fifo, "5")
	requireGone(t, task, shim) // the shim recorded the exit and left

	_, dc = launch(t, root)
	if _, err := dc.RecoverTask(ctx, &driverv1.RecoverTaskRequest{Handle: resp.GetHandle()}); err != nil {
		t.Fatal(err)
	}
	w, err := dc.WaitTask(ctx, &driverv1.WaitTaskRequest{TaskId: "finished"})
	if err != nil {
		t.Fatal(err)
	}
	if w.GetResult().GetExitCode() != 5 {
		t.Fatalf("recorded exit: %v, want code 5", w.GetResult())
	}
	if _, err := dc.DestroyTask(ctx, &driverv1.DestroyTaskRequest{TaskId: "finished"}); err != nil {
		t.Fatal(err)
	}
}
