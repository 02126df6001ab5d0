//go:build unix

package main

import (
	"os/exec"
	"testing"
	"time"
)

// TestStartTimeNamesOneProcess checks what re-attaching relies on, on every
// Unix: a child's start time is known while it runs, alive only with that
// start time, and neither once it exited (a zombie) or was reaped.
func TestStartTimeNamesOneProcess(t *testing.T) {
	cmd := exec.Command("/bin/sh", "-c", "read x")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	pid := cmd.Process.Pid
	start := startTime(pid)
	if start == 0 || !alive(pid, start) || alive(pid, start+1) {
		t.Fatalf("pid %d: start time %d, alive %v, alive with another start %v", pid, start, alive(pid, start), alive(pid, start+1))
	}
	_ = stdin.Close() // the shell reads end of file and exits
	done := make(chan error, 1)
	go func() { done <- waitKeepZombie(pid) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waitKeepZombie did not return after the child exited")
	}
	if alive(pid, start) {
		t.Fatalf("pid %d is alive after its exit", pid)
	}
	if startTime(pid) != start {
		t.Fatalf("the unreaped child's start time changed: %d, was %d", startTime(pid), start)
	}
	_ = cmd.Wait()
	if startTime(pid) != 0 {
		t.Fatalf("a reaped child still has a start time")
	}
}
