//go:build !linux

package bench

import (
	"syscall"
	"time"
)

// dieWithBenchmark has nothing to ask outside Linux, which alone has a
// parent-death signal: a server process is stopped by its Instance's Close,
// and one left by a killed benchmark must be killed by hand.
func dieWithBenchmark() *syscall.SysProcAttr { return nil }

// processCPU is 0 outside Linux: another process's CPU time is not read
// here, and the benchmarks then report no plugin CPU.
func processCPU(int) time.Duration { return 0 }

// osThreads is 0 outside Linux: the thread count is not read here.
func osThreads() int { return 0 }
