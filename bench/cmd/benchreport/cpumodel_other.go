//go:build !linux && !darwin && !freebsd

package main

import "runtime"

// cpuModel is GOARCH: the CPU's model is not read on this OS.
func cpuModel() string { return runtime.GOARCH }
