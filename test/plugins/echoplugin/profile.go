package main

import (
	"fmt"
	"os"
	"runtime/pprof"
	"strconv"
	"time"
)

// profileCPU honours ECHO_CPUPROFILE=PREFIX: it writes a CPU profile of the
// plugin's first ECHO_CPUPROFILE_SECONDS seconds (default 10) to
// PREFIX.PID, for the benchmarks' plugin side (tether.Serve ends the
// process by os.Exit, so the profile is stopped by a timer, not at exit).
func profileCPU() {
	prefix := os.Getenv("ECHO_CPUPROFILE")
	if prefix == "" {
		return
	}
	secs, err := strconv.Atoi(os.Getenv("ECHO_CPUPROFILE_SECONDS"))
	if err != nil || secs <= 0 {
		secs = 10
	}
	f, err := os.OpenFile(fmt.Sprintf("%s.%d", prefix, os.Getpid()), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "echoplugin: ECHO_CPUPROFILE:", err)
		return
	}
	time.AfterFunc(time.Duration(secs)*time.Second, func() {
		pprof.StopCPUProfile()
		f.Close()
	})
}
