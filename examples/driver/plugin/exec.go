package main

import (
	"bytes"
	"context"
	"io"
	"sync"
	"time"

	"github.com/creack/pty"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	driverv1 "github.com/tetherplug/tether/examples/driver/driverpb/v1"
)

const (
	// execTimeout is ExecTask's timeout when the request gives none.
	execTimeout = time.Minute
	// execOutputLimit caps each of ExecTask's outputs.
	execOutputLimit = 1 << 20
)

// runningTask returns a task that has not ended, for exec.
func (d *localDriver) runningTask(id string) (*task, error) {
	t, err := d.lookup(id)
	if err != nil {
		return nil, err
	}
	if _, ok := t.exited(); ok {
		return nil, status.Errorf(codes.FailedPrecondition, "task %q has ended", id)
	}
	return t, nil
}

// ExecTask runs a command to its end, or kills it at the timeout.
func (d *localDriver) ExecTask(ctx context.Context, req *driverv1.ExecTaskRequest) (*driverv1.ExecTaskResponse, error) {
	if len(req.GetCommand()) == 0 {
		return nil, status.Error(codes.InvalidArgument, "command is empty")
	}
	t, err := d.runningTask(req.GetTaskId())
	if err != nil {
		return nil, err
	}
	timeout := execTimeout
	if req.GetTimeout() != nil {
		timeout = req.GetTimeout().AsDuration()
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	p, err := startExec(t.spec, req.GetCommand(), false, nil, true)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "cannot start the command: %v", err)
	}
	var stdout, stderr cappedBuffer
	var pumps sync.WaitGroup
	pumps.Add(2)
	go pump(p.stdout, stdout.write, pumps.Done)
	go pump(p.stderr, stderr.write, pumps.Done)
	res := waitOrKill(ctx, p)
	p.finish(&pumps)
	if ctx.Err() != nil {
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	return &driverv1.ExecTaskResponse{Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), Result: res}, nil
}

// waitOrKill waits for p's end; when ctx ends first it kills p and waits.
func waitOrKill(ctx context.Context, p *execProc) *driverv1.ExitResult {
	exited := make(chan *driverv1.ExitResult, 1)
	go func() {
		code, sig, err := p.wait()
		r := &driverv1.ExitResult{ExitCode: code, Signal: sig}
		if err != nil {
			r.Error = err.Error()
		}
		exited <- r
	}()
	select {
	case r := <-exited:
		return r
	case <-ctx.Done():
		p.kill()
		return <-exited
	}
}

// cappedBuffer keeps the first execOutputLimit bytes written to it.
type cappedBuffer struct{ bytes.Buffer }

func (b *cappedBuffer) write(p []byte) {
	if room := execOutputLimit - b.Len(); room > 0 {
		b.Write(p[:min(len(p), room)])
	}
}

// ExecTaskStreaming runs an interactive command: the first request sets it
// up, then stdin and resizes flow in while stdout and stderr flow out; the
// exit is the last message.
func (d *localDriver) ExecTaskStreaming(stream grpc.BidiStreamingServer[driverv1.ExecTaskStreamingRequest, driverv1.ExecTaskStreamingResponse]) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	setup := first.GetSetup()
	if setup == nil {
		return status.Error(codes.InvalidArgument, "the first message must be a setup")
	}
	if len(setup.GetCommand()) == 0 {
		return status.Error(codes.InvalidArgument, "command is empty")
	}
	t, err := d.runningTask(setup.GetTaskId())
	if err != nil {
		return err
	}
	size := &pty.Winsize{Rows: 24, Cols: 80}
	if s := setup.GetSize(); s.GetRows() > 0 && s.GetCols() > 0 {
		size = &pty.Winsize{Rows: uint16(s.GetRows()), Cols: uint16(s.GetCols())}
	}
	p, err := startExec(t.spec, setup.GetCommand(), setup.GetTty(), size, false)
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "cannot start the command: %v", err)
	}

	var sendMu sync.Mutex
	send := func(r *driverv1.ExecTaskStreamingResponse) {
		sendMu.Lock()
		defer sendMu.Unlock()
		_ = stream.Send(r) // a failed send means the call is over: ctx ends
	}
	var pumps sync.WaitGroup
	pumps.Add(1)
	go pump(p.stdout, func(b []byte) {
		send(&driverv1.ExecTaskStreamingResponse{Output: &driverv1.ExecTaskStreamingResponse_Stdout{Stdout: &driverv1.ExecData{Data: b}}})
	}, func() {
		send(&driverv1.ExecTaskStreamingResponse{Output: &driverv1.ExecTaskStreamingResponse_Stdout{Stdout: &driverv1.ExecData{Close: true}}})
		pumps.Done()
	})
	if p.stderr != nil {
		pumps.Add(1)
		go pump(p.stderr, func(b []byte) {
			send(&driverv1.ExecTaskStreamingResponse{Output: &driverv1.ExecTaskStreamingResponse_Stderr{Stderr: &driverv1.ExecData{Data: b}}})
		}, func() {
			send(&driverv1.ExecTaskStreamingResponse{Output: &driverv1.ExecTaskStreamingResponse_Stderr{Stderr: &driverv1.ExecData{Close: true}}})
			pumps.Done()
		})
	}
	go feed(stream, p)

	res := waitOrKill(stream.Context(), p)
	p.finish(&pumps)
	if err := stream.Context().Err(); err != nil {
		return status.FromContextError(err).Err()
	}
	send(&driverv1.ExecTaskStreamingResponse{Output: &driverv1.ExecTaskStreamingResponse_Exit{Exit: res}})
	return nil
}

// feed applies the caller's stdin and resizes in order, until the caller
// closes its side, which without a terminal also ends stdin, or the call
// ends.
func feed(stream grpc.BidiStreamingServer[driverv1.ExecTaskStreamingRequest, driverv1.ExecTaskStreamingResponse], p *execProc) {
	for {
		req, err := stream.Recv()
		if err == io.EOF && p.tty == nil {
			p.closeStdin()
		}
		if err != nil {
			return
		}
		switch in := req.GetInput().(type) {
		case *driverv1.ExecTaskStreamingRequest_Stdin:
			if len(in.Stdin.GetData()) > 0 && p.stdin != nil {
				_, _ = p.stdin.Write(in.Stdin.GetData())
			}
			if in.Stdin.GetClose() {
				p.closeStdin()
			}
		case *driverv1.ExecTaskStreamingRequest_Resize:
			if p.tty != nil && in.Resize.GetRows() > 0 && in.Resize.GetCols() > 0 {
				_ = pty.Setsize(p.tty, &pty.Winsize{Rows: uint16(in.Resize.GetRows()), Cols: uint16(in.Resize.GetCols())})
			}
		}
	}
}
