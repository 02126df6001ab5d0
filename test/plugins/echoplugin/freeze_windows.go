package main

import (
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// freeze would stop this process, but Windows has no SIGSTOP: the call
// fails instead, saying so.
func freeze() error {
	return status.Error(codes.Unimplemented, "echoplugin: freeze (SIGSTOP) is not supported on windows")
}
