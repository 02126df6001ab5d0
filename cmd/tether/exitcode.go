package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The exit statuses of inspect and call, as docs/cli.md "Exit status" lists
// them. 1, any other failure, is main's default: the plugin did not load, or
// ended during the call.
const (
	// exitUsage is a mistake in the command line or the request: a bad
	// flag or argument, an unknown method, a request that is not JSON.
	exitUsage = 2
	// exitStatusBase plus a gRPC code is a call that ended with that
	// status, as grpcurl exits.
	exitStatusBase = 64
	// exitInterrupted is a command cut short by Ctrl-C or SIGTERM.
	exitInterrupted = 130
)

// usageError marks err as a mistake in the command line or the request:
// exit status 2.
func usageError(err error) error {
	if err == nil {
		return nil
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return err
	}
	return &exitError{code: exitUsage, err: err}
}

// usagef is usageError of a formatted message.
func usagef(format string, args ...any) error { return usageError(fmt.Errorf(format, args...)) }

// usageFlags makes cmd's flag errors usage errors.
func usageFlags(cmd *cobra.Command) {
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
}

// statusExit gives err, the error of a call that ended with a gRPC status,
// exit status 64 plus its code; any other error keeps main's default.
func statusExit(err error, cause error) error {
	s, ok := status.FromError(cause)
	if !ok || s.Code() == codes.OK {
		return err
	}
	return &exitError{code: exitStatusBase + int(s.Code()), err: err}
}
