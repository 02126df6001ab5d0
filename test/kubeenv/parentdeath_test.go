//go:build linux

package kubeenv

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// childEnv makes the test binary, re-run by
// TestProcessesDieWithTheTestBinary, start a control plane and wait.
const childEnv = "KUBEENV_TEST_CHILD_UP"

func TestProcessesDieWithTheTestBinary(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		// The child: Up blocks waiting for a fake etcd that never gets
		// healthy, until the parent kills this process.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, _ = Up(ctx, Options{Dir: os.Getenv(childEnv)})
		return
	}
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "etcd.pid")
	script := "#!/bin/sh\necho $$ > " + pidFile + "\nexec sleep 300\n"
	for _, b := range binaryPackages {
		if err := os.WriteFile(filepath.Join(dir, b.name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestProcessesDieWithTheTestBinary$")
	// The child's environment directory is under this test's, so the
	// killed child leaves nothing behind.
	envDir := filepath.Join(dir, "env")
	cmd.Env = append(os.Environ(), childEnv+"="+envDir, BinDirEnv+"="+dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pid int
	eventually(t, 20*time.Second, "the fake etcd started by the child", func() (bool, string) {
		b, err := os.ReadFile(pidFile)
		if err != nil {
			return false, err.Error()
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil, "pid file: " + string(b)
	})
	t.Cleanup(func() {
		if alive(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	eventually(t, 10*time.Second, "etcd (pid "+strconv.Itoa(pid)+") gone after its parent was killed", func() (bool, string) {
		return !alive(pid), "still running"
	})
}

// alive reports whether pid is a process that has not exited (a zombie
// counts as exited).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}
