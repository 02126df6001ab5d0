//go:build unix

package main

import (
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// On Linux, macOS and FreeBSD a task is a process group led by the task's
// process, under a shim in a session of its own; signals go to the group.

// tasksUnsupported says why this OS cannot run tasks: nil, they run here.
func tasksUnsupported() error { return nil }

// kernelRelease is the kernel's release, as uname -r prints it.
func kernelRelease() string {
	var uts unix.Utsname
	if unix.Uname(&uts) != nil {
		return ""
	}
	return unix.ByteSliceToString(uts.Release[:])
}

// signalGroup sends sig to the process group pid leads, if pid is still the
// process that started at start.
func signalGroup(pid int, start uint64, sig syscall.Signal) error {
	if !alive(pid, start) {
		return syscall.ESRCH
	}
	if err := syscall.Kill(-pid, sig); err != nil {
		return syscall.Kill(pid, sig)
	}
	return nil
}

// parseSignal reads "SIGTERM", "TERM" or "term".
func parseSignal(name string) (syscall.Signal, error) {
	n := strings.ToUpper(name)
	if !strings.HasPrefix(n, "SIG") {
		n = "SIG" + n
	}
	if sig := unix.SignalNum(n); sig != 0 {
		return sig, nil
	}
	return 0, status.Errorf(codes.InvalidArgument, "unknown signal %q", name)
}

// signalName is sig's name, such as "SIGTERM".
func signalName(sig syscall.Signal) string { return unix.SignalName(sig) }
