//go:build linux

package driver_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"

	driverv1 "github.com/tetherplug/tether/examples/driver/driverpb/v1"
)

// execResult is what an ExecTaskStreaming call sent back.
type execResult struct {
	stdout, stderr string
	closed         int // stdout and stderr close messages seen
	exit           *driverv1.ExitResult
}

// execStreaming sends requests in order, closes its side, and reads the
// responses until the driver ends the call.
func execStreaming(t *testing.T, ctx context.Context, dc driverv1.DriverClient, reqs ...*driverv1.ExecTaskStreamingRequest) execResult {
	t.Helper()
	stream, err := dc.ExecTaskStreaming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reqs {
		if err := stream.Send(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	var res execResult
	var stdout, stderr bytes.Buffer
	for {
		resp, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case resp.GetStdout() != nil:
			stdout.Write(resp.GetStdout().GetData())
			if resp.GetStdout().GetClose() {
				res.closed++
			}
		case resp.GetStderr() != nil:
			stderr.Write(resp.GetStderr().GetData())
			if resp.GetStderr().GetClose() {
				res.closed++
			}
		case resp.GetExit() != nil:
			res.exit = resp.GetExit()
		}
	}
	res.stdout, res.stderr = stdout.String(), stderr.String()
	if res.exit == nil {
		t.Fatalf("no exit message; stdout %q, stderr %q", res.stdout, res.stderr)
	}
	return res
}

func setup(id string, tty bool, size *driverv1.TerminalSize, command ...string) *driverv1.ExecTaskStreamingRequest {
	return &driverv1.ExecTaskStreamingRequest{Input: &driverv1.ExecTaskStreamingRequest_Setup{
		Setup: &driverv1.ExecSetup{TaskId: id, Command: command, Tty: tty, Size: size}}}
}

func stdin(data string, close bool) *driverv1.ExecTaskStreamingRequest {
	return &driverv1.ExecTaskStreamingRequest{Input: &driverv1.ExecTaskStreamingRequest_Stdin{
		Stdin: &driverv1.ExecData{Data: []byte(data), Close: close}}}
}

func resize(rows, cols uint32) *driverv1.ExecTaskStreamingRequest {
	return &driverv1.ExecTaskStreamingRequest{Input: &driverv1.ExecTaskStreamingRequest_Resize{
		Resize: &driverv1.TerminalSize{Rows: rows, Cols: cols}}}
}

func TestExecTaskStreamingStdin(t *testing.T) {
	ctx := testContext(t)
	_, dc := launch(t, t.TempDir())
	cfg, _ := fifoTask(t, "host")
	startTask(t, ctx, dc, cfg)

	res := execStreaming(t, ctx, dc,
		setup("host", false, nil, "/bin/sh", "-c", "read x; echo got $x; echo to stderr >&2"),
		stdin("hi\n", false), stdin("", true))
	if res.stdout != "got hi\n" || res.stderr != "to stderr\n" || res.closed != 2 {
		t.Fatalf("stdout %q, stderr %q, %d closes", res.stdout, res.stderr, res.closed)
	}
	if res.exit.GetExitCode() != 0 || res.exit.GetSignal() != "" {
		t.Fatalf("exit %v", res.exit)
	}

	// Closing the sending side ends stdin: cat sees the end of its input.
	res = execStreaming(t, ctx, dc, setup("host", false, nil, "cat"), stdin("abc", false))
	if res.stdout != "abc" || res.exit.GetExitCode() != 0 {
		t.Fatalf("cat: stdout %q, exit %v", res.stdout, res.exit)
	}
}

func TestExecTaskStreamingTerminalResize(t *testing.T) {
	ctx := testContext(t)
	_, dc := launch(t, t.TempDir())
	cfg, _ := fifoTask(t, "tty")
	startTask(t, ctx, dc, cfg)

	res := execStreaming(t, ctx, dc,
		setup("tty", true, &driverv1.TerminalSize{Rows: 24, Cols: 80}, "stty", "size"))
	if strings.TrimSpace(res.stdout) != "24 80" || res.exit.GetExitCode() != 0 {
		t.Fatalf("initial size: stdout %q, exit %v", res.stdout, res.exit)
	}

	// The resize is applied before the line that lets stty run; the
	// terminal echoes that line.
	res = execStreaming(t, ctx, dc,
		setup("tty", true, &driverv1.TerminalSize{Rows: 24, Cols: 80}, "/bin/sh", "-c", "read x; stty size; exit 4"),
		resize(33, 101), stdin("go\n", false))
	if res.stdout != "go\r\n33 101\r\n" {
		t.Fatalf("the resize did not reach the terminal: %q", res.stdout)
	}
	if res.stderr != "" || res.exit.GetExitCode() != 4 {
		t.Fatalf("stderr %q, exit %v", res.stderr, res.exit)
	}
}

func TestExecTask(t *testing.T) {
	ctx := testContext(t)
	_, dc := launch(t, t.TempDir())
	cfg, _ := fifoTask(t, "host")
	cfg.Env = map[string]string{"WHO": "task"}
	startTask(t, ctx, dc, cfg)

	resp, err := dc.ExecTask(ctx, &driverv1.ExecTaskRequest{TaskId: "host",
		Command: []string{"sh", "-c", "echo $WHO; echo err >&2; exit 3"}})
	if err != nil {
		t.Fatal(err)
	}
	if string(resp.GetStdout()) != "task\n" || string(resp.GetStderr()) != "err\n" || resp.GetResult().GetExitCode() != 3 {
		t.Fatalf("exec: %v", resp)
	}

	start := time.Now()
	_, err = dc.ExecTask(ctx, &driverv1.ExecTaskRequest{TaskId: "host",
		Command: []string{"sleep", "60"}, Timeout: durationpb.New(100 * time.Millisecond)})
	requireCode(t, err, codes.DeadlineExceeded)
	if time.Since(start) > bound/2 {
		t.Fatalf("the timeout took %v", time.Since(start))
	}

	_, err = dc.ExecTask(ctx, &driverv1.ExecTaskRequest{TaskId: "nobody", Command: []string{"true"}})
	requireCode(t, err, codes.NotFound)
	_, err = dc.ExecTask(ctx, &driverv1.ExecTaskRequest{TaskId: "host"})
	requireCode(t, err, codes.InvalidArgument)
}
