package main

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// cpuModel is the CPU's model (sysctl hw.model), or GOARCH if it has none.
func cpuModel() string {
	if s, err := unix.Sysctl("hw.model"); err == nil && s != "" {
		return s
	}
	return runtime.GOARCH
}
