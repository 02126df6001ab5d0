//go:build linux

package proc

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// StartTime agrees with the clock: ticks since boot plus the boot time is
// about now, for a process whose name holds spaces and parentheses.
func TestStartTimeOddName(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	odd := filepath.Join(dir, "a) b (c) d")
	if err := os.Symlink("/bin/sleep", odd); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(odd, "100")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	st := mustStartTime(t, cmd.Process.Pid)
	btime := bootTime(t)
	started := btime + int64(st/100) // USER_HZ is 100 on Linux
	if d := time.Now().Unix() - started; d < -2 || d > 10 {
		t.Errorf("start time %d ticks is %ds from now", st, d)
	}
	if again := mustStartTime(t, cmd.Process.Pid); again != st {
		t.Errorf("start time changed: %d then %d", st, again)
	}
}

func bootTime(t *testing.T) int64 {
	t.Helper()
	f, err := os.Open("/proc/stat")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "btime "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no btime in /proc/stat")
	return 0
}

func TestParseStartTime(t *testing.T) {
	rest := " S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 424242 20 21\n"
	for _, name := range []string{"(sleep)", "(a b)", "(x) S 1 2 3)", "(()", "())"} {
		st, err := parseStartTime([]byte("123 " + name + rest))
		if err != nil || st != 424242 {
			t.Errorf("name %s: %d, %v; want 424242", name, st, err)
		}
	}
	for _, bad := range []string{"", "123 sleep S 1", "123 (x) S 1 2", "123 (x)" + strings.Replace(rest, "424242", "-1", 1), ") 1 2 ("} {
		if _, err := parseStartTime([]byte(bad)); !errors.Is(err, ErrBadStat) {
			t.Errorf("%q: %v, want ErrBadStat", bad, err)
		}
	}
}

func FuzzParseStartTime(f *testing.F) {
	f.Add([]byte("123 (a) b) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 99 20\n"))
	f.Add([]byte("1 () S"))
	f.Add([]byte(")("))
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := parseStartTime(b); err != nil && !errors.Is(err, ErrBadStat) {
			t.Errorf("error %v does not wrap ErrBadStat", err)
		}
	})
}
