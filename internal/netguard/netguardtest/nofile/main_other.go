//go:build !linux

// Command nofile is for Linux (RLIMIT_NOFILE).
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "nofile: descriptor limits are set here on Linux only")
	os.Exit(2)
}
