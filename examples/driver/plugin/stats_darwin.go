package main

import (
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// cpuTicksPerSecond is the unit of a sample's CPU times (none on macOS).
const cpuTicksPerSecond = 1e6

// takeSample fails with Unimplemented: on macOS, sysctl kern.proc.pid
// leaves another process's CPU times and memory empty, and the call that
// has them, libproc's proc_pid_rusage, needs cgo, which this example does
// not use.
func takeSample(int, uint64) (*sample, error) {
	return nil, status.Error(codes.Unimplemented, "task stats are not available on darwin: sysctl kern.proc.pid has no CPU or memory figures there, and this driver does not use cgo for libproc")
}
