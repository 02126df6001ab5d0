package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestReadProcStatOddCommandName(t *testing.T) {
	// A command name with spaces and parentheses must not shift fields.
	dir := t.TempDir()
	odd := filepath.Join(dir, "a) (b c")
	if err := os.Symlink("/bin/sleep", odd); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(odd, "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	ps, err := readProcStat(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	self, err := readProcStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if ps.startTicks < self.startTicks || !alive(cmd.Process.Pid, ps.startTicks) || alive(cmd.Process.Pid, ps.startTicks+1) {
		t.Fatalf("child %+v, self %+v", ps, self)
	}
}

func TestParseStatusKB(t *testing.T) {
	in := "Name:\tsleep\nVmSize:\t    8244 kB\nVmRSS:\t     948 kB\nThreads:\t1\n"
	got := parseStatusKB([]byte(in), "VmRSS", "VmSize", "VmSwap")
	if got["VmRSS"] != 948*1024 || got["VmSize"] != 8244*1024 || len(got) != 2 {
		t.Fatalf("got %v", got)
	}
}
