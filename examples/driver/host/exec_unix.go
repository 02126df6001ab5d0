//go:build unix

package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	driverv1 "github.com/tetherplug/tether/examples/driver/driverpb/v1"
)

// forwardResizes sends our terminal's size whenever it changes.
func forwardResizes(ctx context.Context, stream execStream, fd int) {
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	defer signal.Stop(winch)
	for {
		select {
		case <-ctx.Done():
			return
		case <-winch:
			if size := terminalSize(fd); size != nil {
				_ = stream.Send(&driverv1.ExecTaskStreamingRequest{Input: &driverv1.ExecTaskStreamingRequest_Resize{Resize: size}})
			}
		}
	}
}
