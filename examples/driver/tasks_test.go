//go:build linux

package driver_test

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"

	driverv1 "github.com/tetherplug/tether/examples/driver/driverpb/v1"
)

func TestStartWaitInspect(t *testing.T) {
	ctx := testContext(t)
	_, dc := launch(t, t.TempDir())
	cfg, fifo := fifoTask(t, "wait-me")
	startTask(t, ctx, dc, cfg)

	info, err := dc.InspectTask(ctx, &driverv1.InspectTaskRequest{TaskId: "wait-me"})
	if err != nil {
		t.Fatal(err)
	}
	if info.GetState() != driverv1.TaskState_TASK_STATE_RUNNING || info.GetResult() != nil {
		t.Fatalf("inspect a running task: %v", info)
	}
	release(t, fifo, "7")
	for i := 0; i < 2; i++ { // WaitTask answers again after the end
		w, err := dc.WaitTask(ctx, &driverv1.WaitTaskRequest{TaskId: "wait-me"})
		if err != nil {
			t.Fatal(err)
		}
		if r := w.GetResult(); r.GetExitCode() != 7 || r.GetSignal() != "" || r.GetError() != "" {
			t.Fatalf("exit %v, want code 7", r)
		}
	}
	info, err = dc.InspectTask(ctx, &driverv1.InspectTaskRequest{TaskId: "wait-me"})
	if err != nil {
		t.Fatal(err)
	}
	if info.GetState() != driverv1.TaskState_TASK_STATE_EXITED || info.GetResult().GetExitCode() != 7 || info.GetCompletedAt() == nil {
		t.Fatalf("inspect an exited task: %v", info)
	}
}

func TestTaskOutputEnvAndWorkingDir(t *testing.T) {
	ctx := testContext(t)
	_, dc := launch(t, t.TempDir())
	dir := t.TempDir()
	startTask(t, ctx, dc, &driverv1.TaskConfig{Id: "env", Command: "sh",
		Args: []string{"-c", `echo "$GREETING from $(pwd)"; echo oops >&2; [ -z "$TETHER_HOST_PIPE" ]`},
		Env:  map[string]string{"GREETING": "hello"}, WorkingDir: dir})
	w, err := dc.WaitTask(ctx, &driverv1.WaitTaskRequest{TaskId: "env"})
	if err != nil {
		t.Fatal(err)
	}
	if w.GetResult().GetExitCode() != 0 {
		t.Fatalf("exit %v: the task saw tether's launch variables", w.GetResult())
	}
	info, err := dc.InspectTask(ctx, &driverv1.InspectTaskRequest{TaskId: "env"})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := os.ReadFile(info.GetAttributes()["stdout_path"])
	errOut, _ := os.ReadFile(info.GetAttributes()["stderr_path"])
	if string(out) != "hello from "+dir+"\n" || string(errOut) != "oops\n" {
		t.Fatalf("stdout %q, stderr %q", out, errOut)
	}
}

func TestDestroyRunningTaskNeedsForce(t *testing.T) {
	ctx := testContext(t)
	_, dc := launch(t, t.TempDir())
	cfg, _ := fifoTask(t, "busy")
	startTask(t, ctx, dc, cfg)
	task, shim := taskProcs(t, ctx, dc, "busy")

	_, err := dc.DestroyTask(ctx, &driverv1.DestroyTaskRequest{TaskId: "busy"})
	requireCode(t, err, codes.FailedPrecondition)
	if !task.running() {
		t.Fatal("a refused destroy stopped the task")
	}
	if _, err := dc.DestroyTask(ctx, &driverv1.DestroyTaskRequest{TaskId: "busy", Force: true}); err != nil {
		t.Fatal(err)
	}
	requireGone(t, task, shim)
	_, err = dc.WaitTask(ctx, &driverv1.WaitTaskRequest{TaskId: "busy"})
	requireCode(t, err, codes.NotFound)
	_, err = dc.InspectTask(ctx, &driverv1.InspectTaskRequest{TaskId: "busy"})
	requireCode(t, err, codes.NotFound)
}

func TestStopTask(t *testing.T) {
	ctx := testContext(t)
	_, dc := launch(t, t.TempDir())

	t.Run("signal is enough", func(t *testing.T) {
		cfg, _ := fifoTask(t, "polite")
		startTask(t, ctx, dc, cfg)
		resp, err := dc.StopTask(ctx, &driverv1.StopTaskRequest{TaskId: "polite", Timeout: durationpb.New(bound)})
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetKilled() || resp.GetResult().GetSignal() != "SIGTERM" || resp.GetResult().GetExitCode() != 128+15 {
			t.Fatalf("stop: %v", resp)
		}
	})

	t.Run("escalates to kill", func(t *testing.T) {
		cfg, _ := fifoTask(t, "stubborn")
		cfg.Args[1] = `trap "" TERM; echo ready; ` + cfg.Args[1]
		startTask(t, ctx, dc, cfg)
		waitForOutput(t, dc, "stubborn", "ready")
		start := time.Now()
		resp, err := dc.StopTask(ctx, &driverv1.StopTaskRequest{TaskId: "stubborn", Signal: "SIGTERM",
			Timeout: durationpb.New(200 * time.Millisecond)})
		if err != nil {
			t.Fatal(err)
		}
		if !resp.GetKilled() || resp.GetResult().GetSignal() != "SIGKILL" || resp.GetResult().GetExitCode() != 128+9 {
			t.Fatalf("stop: %v", resp)
		}
		if time.Since(start) < 200*time.Millisecond {
			t.Fatal("killed before the timeout")
		}
	})
}

// waitForOutput waits until the task's stdout contains want.
func waitForOutput(t *testing.T, dc driverv1.DriverClient, id, want string) {
	t.Helper()
	ctx := testContext(t)
	info, err := dc.InspectTask(ctx, &driverv1.InspectTaskRequest{TaskId: id})
	if err != nil {
		t.Fatal(err)
	}
	for {
		out, _ := os.ReadFile(info.GetAttributes()["stdout_path"])
		if strings.Contains(string(out), want) {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("task %s never printed %q", id, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSignalTask(t *testing.T) {
	ctx := testContext(t)
	_, dc := launch(t, t.TempDir())
	cfg, _ := fifoTask(t, "sig")
	startTask(t, ctx, dc, cfg)
	_, err := dc.SignalTask(ctx, &driverv1.SignalTaskRequest{TaskId: "sig", Signal: "NOSUCH"})
	requireCode(t, err, codes.InvalidArgument)
	if _, err := dc.SignalTask(ctx, &driverv1.SignalTaskRequest{TaskId: "sig", Signal: "usr1"}); err != nil {
		t.Fatal(err)
	}
	w, err := dc.WaitTask(ctx, &driverv1.WaitTaskRequest{TaskId: "sig"})
	if err != nil {
		t.Fatal(err)
	}
	if w.GetResult().GetSignal() != "SIGUSR1" || w.GetResult().GetExitCode() != 128+int32(syscall.SIGUSR1) {
		t.Fatalf("exit %v, want SIGUSR1", w.GetResult())
	}
	_, err = dc.SignalTask(ctx, &driverv1.SignalTaskRequest{TaskId: "sig", Signal: "SIGUSR1"})
	requireCode(t, err, codes.FailedPrecondition)
}

func TestBadRequests(t *testing.T) {
	ctx := testContext(t)
	_, dc := launch(t, t.TempDir())
	for _, cfg := range []*driverv1.TaskConfig{
		nil,
		{Id: "../escape", Command: "true"},
		{Id: "no-command"},
		{Id: "relative", Command: "true", WorkingDir: "tmp"},
	} {
		_, err := dc.StartTask(ctx, &driverv1.StartTaskRequest{Config: cfg})
		requireCode(t, err, codes.InvalidArgument)
	}
	_, err := dc.StartTask(ctx, &driverv1.StartTaskRequest{Config: &driverv1.TaskConfig{Id: "missing", Command: "/no/such/program"}})
	requireCode(t, err, codes.InvalidArgument)

	cfg, _ := fifoTask(t, "twice")
	startTask(t, ctx, dc, cfg)
	_, err = dc.StartTask(ctx, &driverv1.StartTaskRequest{Config: cfg})
	requireCode(t, err, codes.AlreadyExists)

	_, err = dc.WaitTask(ctx, &driverv1.WaitTaskRequest{TaskId: "nobody"})
	requireCode(t, err, codes.NotFound)
	_, err = dc.RecoverTask(ctx, &driverv1.RecoverTaskRequest{Handle: &driverv1.TaskHandle{Version: 1,
		Config: &driverv1.TaskConfig{Id: "x", Command: "true"}, DriverState: []byte("not json")}})
	requireCode(t, err, codes.InvalidArgument)
}
