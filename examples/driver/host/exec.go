package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"sync"

	"golang.org/x/term"

	driverv1 "github.com/tetherplug/tether/examples/driver/driverpb/v1"
)

// cmdExec runs a command in a task's context with this terminal's stdin,
// stdout and stderr; with -t on a pseudo-terminal, this terminal in raw mode
// and its size following ours.
func cmdExec(ctx context.Context, h *host, args []string) error {
	fs := flag.NewFlagSet("exec", flag.ExitOnError)
	tty := fs.Bool("t", false, "run the command on a pseudo-terminal")
	_ = fs.Parse(args)
	if fs.NArg() < 2 {
		return errors.New("usage: exec [-t] ID -- CMD [ARG...]")
	}
	id, argv := fs.Arg(0), fs.Args()[1:]
	if argv[0] == "--" {
		argv = argv[1:]
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := h.driver.ExecTaskStreaming(ctx)
	if err != nil {
		return err
	}
	// Stdin and resizes are sent from two goroutines; a gRPC stream takes
	// one sender at a time.
	sender := &lockedSender{s: stream}
	setup := &driverv1.ExecSetup{TaskId: id, Command: argv, Tty: *tty}
	inFd := int(os.Stdin.Fd())
	if *tty && term.IsTerminal(inFd) {
		old, err := term.MakeRaw(inFd)
		if err != nil {
			return err
		}
		defer func() { _ = term.Restore(inFd, old) }()
		setup.Size = terminalSize(inFd)
		go forwardResizes(ctx, sender, inFd)
	}
	if err := stream.Send(&driverv1.ExecTaskStreamingRequest{Input: &driverv1.ExecTaskStreamingRequest_Setup{Setup: setup}}); err != nil {
		return err
	}
	go forwardStdin(sender)

	for {
		resp, err := stream.Recv()
		if err != nil {
			if err == io.EOF {
				err = errors.New("the driver ended the call without an exit")
			}
			return err
		}
		switch {
		case resp.GetStdout() != nil:
			_, _ = os.Stdout.Write(resp.GetStdout().GetData())
		case resp.GetStderr() != nil:
			_, _ = os.Stderr.Write(resp.GetStderr().GetData())
		case resp.GetExit() != nil:
			return exitCodeError(resp.GetExit().GetExitCode())
		}
	}
}

type execStream interface {
	Send(*driverv1.ExecTaskStreamingRequest) error
}

// lockedSender serialises Send calls.
type lockedSender struct {
	mu sync.Mutex
	s  execStream
}

func (l *lockedSender) Send(r *driverv1.ExecTaskStreamingRequest) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.s.Send(r)
}

// forwardStdin sends our stdin until its end. The process exits when the
// command ends, so this goroutine may be left reading.
func forwardStdin(stream execStream) {
	buf := make([]byte, 32<<10)
	for {
		n, err := os.Stdin.Read(buf)
		if n > 0 {
			data := append([]byte(nil), buf[:n]...)
			if stream.Send(&driverv1.ExecTaskStreamingRequest{Input: &driverv1.ExecTaskStreamingRequest_Stdin{Stdin: &driverv1.ExecData{Data: data}}}) != nil {
				return
			}
		}
		if err != nil {
			_ = stream.Send(&driverv1.ExecTaskStreamingRequest{Input: &driverv1.ExecTaskStreamingRequest_Stdin{Stdin: &driverv1.ExecData{Close: true}}})
			return
		}
	}
}

func terminalSize(fd int) *driverv1.TerminalSize {
	cols, rows, err := term.GetSize(fd)
	if err != nil {
		return nil
	}
	return &driverv1.TerminalSize{Rows: uint32(rows), Cols: uint32(cols)}
}
