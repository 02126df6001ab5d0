package main

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// cpuModel is the CPU's brand string (sysctl machdep.cpu.brand_string), or
// GOARCH if it has none.
func cpuModel() string {
	if s, err := unix.Sysctl("machdep.cpu.brand_string"); err == nil && s != "" {
		return s
	}
	return runtime.GOARCH
}
