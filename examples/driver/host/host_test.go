//go:build linux

package main_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tetherplug/tether/tethertest"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) {
	// Shims left by driver-host's drivers are re-parented to this process,
	// which reaps them.
	_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	code := m.Run()
	tethertest.Cleanup()
	os.Exit(code)
}

// cli runs driver-host commands against one state file and task root.
type cli struct {
	t                 *testing.T
	host, plugin, dir string
}

func (c cli) run(stdin string, args ...string) (stdout string, code int) {
	c.t.Helper()
	args = append([]string{"-plugin", c.plugin, "-state", filepath.Join(c.dir, "state.json")}, args...)
	cmd := exec.Command(c.host, args...)
	cmd.Env = append(os.Environ(), "DRIVER_TASK_ROOT="+filepath.Join(c.dir, "tasks"))
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	timer := time.AfterFunc(20*time.Second, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		c.t.Fatalf("driver-host %v: %v", args, err)
	}
	if testing.Verbose() && errOut.Len() > 0 {
		c.t.Logf("driver-host %v stderr: %s", args, errOut.String())
	}
	return out.String(), cmd.ProcessState.ExitCode()
}

func TestHostKeepsTasksAcrossRuns(t *testing.T) {
	c := cli{t: t, host: tethertest.Build(t, "github.com/tetherplug/tether/examples/driver/host"),
		plugin: tethertest.Build(t, "github.com/tetherplug/tether/examples/driver/plugin"), dir: t.TempDir()}
	fifo := filepath.Join(c.dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { requireNoProcessMentions(t, c.dir) })

	if out, code := c.run("", "start", "-id", "t1", "--", "sh", "-c", `read x < "$0"; exit "$x"`, fifo); out != "t1\n" || code != 0 {
		t.Fatalf("start: %q, exit %d", out, code)
	}
	// Each command is a new driver process that recovers t1 from the state file.
	if out, _ := c.run("", "ps"); !strings.Contains(out, "t1") || !strings.Contains(out, "running") {
		t.Fatalf("ps: %q", out)
	}
	if out, code := c.run("hi\n", "exec", "t1", "--", "sh", "-c", "read x; echo got $x"); out != "got hi\n" || code != 0 {
		t.Fatalf("exec: %q, exit %d", out, code)
	}
	release(t, fifo, "6")
	if out, code := c.run("", "wait", "t1"); out != "exited with code 6\n" || code != 6 {
		t.Fatalf("wait: %q, exit %d", out, code)
	}
	if _, code := c.run("", "rm", "t1"); code != 0 {
		t.Fatalf("rm: exit %d", code)
	}
	if out, _ := c.run("", "ps"); strings.Contains(out, "t1") {
		t.Fatalf("ps after rm: %q", out)
	}
	if out, code := c.run("", "run", "--", "sh", "-c", "echo out; exit 3"); out != "out\n" || code != 3 {
		t.Fatalf("run: %q, exit %d", out, code)
	}
}

// release writes line to a FIFO once its reader has opened it.
func release(t *testing.T, fifo, line string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0)
		if err == nil {
			_, err = f.WriteString(line + "\n")
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			return
		}
		if !errors.Is(err, syscall.ENXIO) || time.Now().After(deadline) {
			t.Fatalf("no reader on %s: %v", fifo, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// requireNoProcessMentions waits until no running process has dir in its
// command line (tasks and shims of the test), reaping adopted zombies.
func requireNoProcessMentions(t *testing.T, dir string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		for {
			if pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil); err != nil || pid <= 0 {
				break
			}
		}
		left := processesMentioning(dir)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes left running: %q", left)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func processesMentioning(dir string) []string {
	var found []string
	paths, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err == nil && bytes.Contains(b, []byte(dir)) {
			found = append(found, strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return found
}
