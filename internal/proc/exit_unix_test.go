//go:build unix

package proc

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// A plugin that ran longer than the grace and then printed its last words to
// stderr: the exit is not reported until those lines have been forwarded.
func TestExitWaitsForStderrAfterLongRun(t *testing.T) {
	t.Parallel()
	var got lines
	gotLast, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	path := script(t, t.TempDir(), "p", "sleep 2.3\necho first >&2\necho last >&2\nexit 3\n")
	p := start(t, Spec{Path: path, KillTimeout: 10 * time.Second, Stderr: func(l string) {
		if l == "last\n" {
			close(gotLast)
			<-release
		}
		got.add(l)
	}})
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	select {
	case <-gotLast:
	case <-time.After(10 * time.Second):
		t.Fatal("stderr line not forwarded within 10s")
	}
	// The program has written its last line and exits at once; while that
	// line is still being forwarded, the exit must not be reported.
	select {
	case <-p.Exited():
		t.Fatal("exit reported before stderr was drained")
	case <-time.After(time.Second):
	}
	once.Do(func() { close(release) })
	waitExited(t, p, 5*time.Second)
	if l := got.get(); !slices.Equal(l, []string{"first\n", "last\n"}) {
		t.Errorf("stderr lines at exit = %q", l)
	}
	if p.ExitCode() != 3 {
		t.Errorf("ExitCode = %d, want 3", p.ExitCode())
	}
}

// A grandchild that keeps stderr open delays the exit report by at most the
// grace, counted from the exit; without DieWithHost it is left running.
func TestExitBoundedWhenGrandchildHoldsStderr(t *testing.T) {
	t.Parallel()
	path := script(t, t.TempDir(), "p", "sleep 1000 &\necho $!\nexit 0\n")
	p := start(t, Spec{Path: path, KillTimeout: 300 * time.Millisecond})
	pid, err := strconv.Atoi(strings.TrimSpace(mustHandshake(t, p)))
	if err != nil {
		t.Fatal(err)
	}
	killAtEnd(t, pid)
	waitExited(t, p, 1500*time.Millisecond)
	if p.ExitCode() != 0 {
		t.Errorf("ExitCode = %d, want 0", p.ExitCode())
	}
	if !alive(pid) {
		t.Error("the child of a plugin without DieWithHost was killed")
	}
}

// With DieWithHost, what the plugin started in its process group dies when
// the plugin exits, whether it holds the pipes or not, and whether it
// honours SIGTERM or not.
func TestGroupKilledAfterLeaderExits(t *testing.T) {
	for name, child := range map[string]string{
		"holds pipes":                   "sleep 1000 &",
		"detached from pipes":           "sleep 1000 </dev/null >/dev/null 2>&1 &",
		"ignores SIGTERM":               "sh -c 'trap \"\" TERM; exec sleep 1000' </dev/null >/dev/null 2>&1 &",
		"ignores SIGTERM, holds stderr": "sh -c 'trap \"\" TERM; exec sleep 1000' &",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := script(t, t.TempDir(), "p", child+"\necho $!\nexit 0\n")
			p := start(t, Spec{Path: path, DieWithHost: true, KillTimeout: time.Second})
			pid, err := strconv.Atoi(strings.TrimSpace(mustHandshake(t, p)))
			if err != nil {
				t.Fatal(err)
			}
			killAtEnd(t, pid)
			waitExited(t, p, 5*time.Second)
			if !waitDead(pid, 2*time.Second) {
				t.Errorf("child %d still running after the plugin exited", pid)
			}
		})
	}
}

func TestDirRemovedAfterExit(t *testing.T) {
	t.Parallel()
	dir, err := os.MkdirTemp("", "proc-dir-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	path := script(t, t.TempDir(), "p", "touch \"$1/sock\"\nexit 0\n")
	p := start(t, Spec{Path: path, Args: []string{dir}, Dir: dir})
	waitExited(t, p, 5*time.Second)
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("Dir still there after exit: %v", err)
	}
}
