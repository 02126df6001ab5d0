// Command nofile runs a program with a low limit of open descriptors:
//
//	nofile N PROGRAM [ARGS...]
//
// sets RLIMIT_NOFILE to N (soft and hard, so the program cannot raise it)
// and executes PROGRAM in its place. Tests start a plugin with it to see
// what it does when descriptors run out.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: nofile N PROGRAM [ARGS...]")
		os.Exit(2)
	}
	n, err := strconv.ParseUint(os.Args[1], 10, 64)
	if err != nil {
		fmt.Fprintln(os.Stderr, "nofile:", err)
		os.Exit(2)
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: n, Max: n}); err != nil {
		fmt.Fprintln(os.Stderr, "nofile: setrlimit:", err)
		os.Exit(1)
	}
	path, err := exec.LookPath(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "nofile:", err)
		os.Exit(1)
	}
	err = syscall.Exec(path, os.Args[2:], os.Environ())
	fmt.Fprintln(os.Stderr, "nofile: exec:", err)
	os.Exit(1)
}
