package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	driverv1 "github.com/tetherplug/tether/examples/driver/driverpb/v1"
)

func (h *host) start(ctx context.Context, id string, argv []string) error {
	if len(argv) == 0 {
		return errors.New("no command given")
	}
	resp, err := h.driver.StartTask(ctx, &driverv1.StartTaskRequest{Config: &driverv1.TaskConfig{
		Id: id, Name: strings.Join(argv, " "), Command: argv[0], Args: argv[1:]}})
	if err != nil {
		return err
	}
	h.handles.byID[id] = resp.GetHandle()
	return h.handles.save() // keep the handle before anything else can fail
}

// cmdRun starts a task, waits for it, prints its output, removes it, and
// exits with its exit code.
func cmdRun(ctx context.Context, h *host, args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	_ = fs.Parse(args)
	id := newID()
	if err := h.start(ctx, id, commandArgs(fs)); err != nil {
		return err
	}
	w, err := h.driver.WaitTask(ctx, &driverv1.WaitTaskRequest{TaskId: id})
	if err != nil {
		return err
	}
	info, err := h.driver.InspectTask(ctx, &driverv1.InspectTaskRequest{TaskId: id})
	if err != nil {
		return err
	}
	out, _ := os.ReadFile(info.GetAttributes()["stdout_path"])
	errOut, _ := os.ReadFile(info.GetAttributes()["stderr_path"])
	os.Stdout.Write(out)
	os.Stderr.Write(errOut)
	if _, err := h.driver.DestroyTask(ctx, &driverv1.DestroyTaskRequest{TaskId: id}); err != nil {
		return err
	}
	delete(h.handles.byID, id)
	fmt.Fprintf(os.Stderr, "task %s: %s\n", id, describeExit(w.GetResult()))
	return exitCodeError(w.GetResult().GetExitCode())
}

func cmdStart(ctx context.Context, h *host, args []string) error {
	fs := flag.NewFlagSet("start", flag.ExitOnError)
	id := fs.String("id", newID(), "the task's id")
	_ = fs.Parse(args)
	if err := h.start(ctx, *id, commandArgs(fs)); err != nil {
		return err
	}
	fmt.Println(*id)
	return nil
}

func cmdPs(ctx context.Context, h *host, _ []string) error {
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tPID\tSTARTED\tEXIT\tCOMMAND")
	for _, id := range h.handles.ids() {
		info, err := h.driver.InspectTask(ctx, &driverv1.InspectTaskRequest{TaskId: id})
		if err != nil {
			fmt.Fprintf(tw, "%s\t?\t\t\t%v\t\n", id, err)
			continue
		}
		state, exit := "running", ""
		if info.GetResult() != nil {
			state, exit = "exited", describeExit(info.GetResult())
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", id, state, info.GetPid(),
			info.GetStartedAt().AsTime().Local().Format(time.TimeOnly), exit, info.GetConfig().GetName())
	}
	return tw.Flush()
}

func cmdWait(ctx context.Context, h *host, args []string) error {
	if len(args) != 1 {
		return errors.New("usage: wait ID")
	}
	w, err := h.driver.WaitTask(ctx, &driverv1.WaitTaskRequest{TaskId: args[0]})
	if err != nil {
		return err
	}
	fmt.Println(describeExit(w.GetResult()))
	return exitCodeError(w.GetResult().GetExitCode())
}

func cmdStop(ctx context.Context, h *host, args []string) error {
	fs := flag.NewFlagSet("stop", flag.ExitOnError)
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait after SIGTERM before killing")
	_ = fs.Parse(args)
	if fs.NArg() != 1 {
		return errors.New("usage: stop [-timeout 5s] ID")
	}
	resp, err := h.driver.StopTask(ctx, &driverv1.StopTaskRequest{TaskId: fs.Arg(0), Timeout: durationpb.New(*timeout)})
	if err != nil {
		return err
	}
	if resp.GetKilled() {
		fmt.Print("killed after the timeout: ")
	}
	fmt.Println(describeExit(resp.GetResult()))
	return nil
}

func cmdRm(ctx context.Context, h *host, args []string) error {
	fs := flag.NewFlagSet("rm", flag.ExitOnError)
	force := fs.Bool("f", false, "kill the task if it is running")
	_ = fs.Parse(args)
	if fs.NArg() != 1 {
		return errors.New("usage: rm [-f] ID")
	}
	if _, err := h.driver.DestroyTask(ctx, &driverv1.DestroyTaskRequest{TaskId: fs.Arg(0), Force: *force}); err != nil {
		return err
	}
	delete(h.handles.byID, fs.Arg(0))
	return nil
}

func describeExit(r *driverv1.ExitResult) string {
	switch {
	case r.GetError() != "":
		return "exit unknown: " + r.GetError()
	case r.GetSignal() != "":
		return fmt.Sprintf("killed by %s (%d)", r.GetSignal(), r.GetExitCode())
	}
	return fmt.Sprintf("exited with code %d", r.GetExitCode())
}
