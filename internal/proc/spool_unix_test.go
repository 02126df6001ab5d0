//go:build unix

package proc

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tetherplug/tether/internal/spool"
)

// counter prints a handshake line, then numbered lines to stdout and
// stderr until it is killed: "out N" and "err N".
const counter = `echo "hs|1"
i=0
while :; do
	i=$((i+1))
	echo "out $i"
	echo "err $i" >&2
	sleep 0.005
done
`

func spoolSpec(t *testing.T, body string) (Spec, *SpoolFiles, chan string) {
	t.Helper()
	dir := t.TempDir()
	sf := &SpoolFiles{Stdout: filepath.Join(dir, "out"), Stderr: filepath.Join(dir, "err")}
	errs := make(chan string, 1<<16)
	return Spec{Path: script(t, dir, "p", body), Spool: sf, Stderr: func(l string) { errs <- l }}, sf, errs
}

func recvLine(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case l := <-ch:
		return l
	case <-time.After(10 * time.Second):
		t.Fatal("no line within 10s")
		return ""
	}
}

// lineNo parses "err N\n" or "out N\n".
func lineNo(t *testing.T, prefix, l string) int {
	t.Helper()
	n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(l, prefix+" "), "\n"))
	if err != nil {
		t.Fatalf("unexpected line %q", l)
	}
	return n
}

// With spool files the program keeps writing while no host reads (the host
// died: its readers are gone), and a new reader from the recorded offsets
// sees every line after those already handed on, in order, none lost.
func TestSpoolSurvivesHostGone(t *testing.T) {
	t.Parallel()
	s, sf, errs := spoolSpec(t, counter)
	p := start(t, s)
	if l := mustHandshake(t, p); l != "hs|1\n" {
		t.Fatalf("handshake %q", l)
	}
	outs := make(chan string, 1<<16)
	go p.ForwardStdout(func(l string) { outs <- l })
	var lastErr, lastOut int
	for lastErr < 20 {
		lastErr = lineNo(t, "err", recvLine(t, errs))
	}
	for lastOut < 20 {
		lastOut = lineNo(t, "out", recvLine(t, outs))
	}
	// The host goes: its readers stop; what it recorded is what was handed on.
	p.spool.stop()
	outOff, errOff := p.SpoolOffsets()
	for len(errs) > 0 {
		lastErr = lineNo(t, "err", <-errs)
	}
	for len(outs) > 0 {
		lastOut = lineNo(t, "out", <-outs)
	}
	// Nobody reads, and the program goes on writing.
	size0 := fileSize(t, sf.Stderr)
	deadline := time.Now().Add(10 * time.Second)
	for fileSize(t, sf.Stderr) < size0+2000 {
		if p.HasExited() || time.Now().After(deadline) {
			t.Fatalf("program stopped writing while no host read (exited %v)", p.HasExited())
		}
		time.Sleep(10 * time.Millisecond)
	}
	checkResume(t, sf.Stderr, errOff, "err", lastErr)
	checkResume(t, sf.Stdout, outOff, "out", lastOut)
}

// checkResume reads path from off and checks that the lines continue right
// after last (or repeat some before it: at least once), with no gap.
func checkResume(t *testing.T, path string, off int64, prefix string, last int) {
	t.Helper()
	fl := spool.Follow(path, off)
	defer fl.Stop()
	br := bufio.NewReader(fl)
	prev := -1
	for i := 0; i < 100; i++ {
		ch := make(chan string, 1)
		go func() { l, _ := br.ReadString('\n'); ch <- l }()
		n := lineNo(t, prefix, recvLine(t, ch))
		if prev < 0 {
			if n > last+1 || n < 1 {
				t.Fatalf("%s: resumed at line %d, after %d was handed on: lines lost", prefix, n, last)
			}
		} else if n != prev+1 {
			t.Fatalf("%s: line %d after %d", prefix, n, prev)
		}
		prev = n
	}
	fl.Stop()
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// On exit, what the program wrote last reaches Spec.Stderr before Exited
// and stdout ends, as with pipes; the files are the program's fd 1 and 2,
// 0600; the reading starts where the files ended (an earlier run's output
// is not read again).
func TestSpoolDrainOnExit(t *testing.T) {
	t.Parallel()
	s, sf, errs := spoolSpec(t, "echo hs\necho rest\nfor i in 1 2 3; do echo \"last $i\" >&2; done\nexit 3\n")
	if err := os.WriteFile(sf.Stderr, []byte("old run\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sf.Stdout, []byte("old hs\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := start(t, s)
	if l := mustHandshake(t, p); l != "hs\n" {
		t.Fatalf("handshake %q", l)
	}
	rest := make(chan string, 1)
	go func() { b, _ := io.ReadAll(p.Stdout()); rest <- string(b) }()
	waitExited(t, p, 10*time.Second)
	if p.ExitCode() != 3 {
		t.Errorf("ExitCode %d", p.ExitCode())
	}
	var got []string
	for len(errs) > 0 {
		got = append(got, <-errs)
	}
	if strings.Join(got, "") != "last 1\nlast 2\nlast 3\n" {
		t.Errorf("stderr lines %q", got)
	}
	if r := recvLine(t, rest); r != "rest\n" {
		t.Errorf("rest of stdout %q", r)
	}
	out, errOff := p.SpoolOffsets()
	if out != fileSize(t, sf.Stdout) || errOff != fileSize(t, sf.Stderr) {
		t.Errorf("offsets %d, %d; want the files' sizes %d, %d", out, errOff, fileSize(t, sf.Stdout), fileSize(t, sf.Stderr))
	}
	for _, f := range []string{sf.Stdout, sf.Stderr} {
		fi, _ := os.Stat(f)
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v", f, fi.Mode().Perm())
		}
	}
}

// A program that exits without a handshake gives io.EOF, not a hang.
func TestSpoolNoHandshake(t *testing.T) {
	t.Parallel()
	s, _, _ := spoolSpec(t, "exit 0\n")
	p := start(t, s)
	if l, err := handshake(t, p); err != io.EOF || l != "" {
		t.Errorf("ReadHandshake = %q, %v; want io.EOF", l, err)
	}
}

// A missing spool directory fails Start with the cause, and nothing runs.
func TestSpoolMissingDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	_, err := Start(Spec{Path: script(t, dir, "p", "touch "+marker+"\n"),
		Spool: &SpoolFiles{Stdout: filepath.Join(dir, "no", "out"), Stderr: filepath.Join(dir, "err")}})
	if err == nil || !os.IsNotExist(err) && !strings.Contains(err.Error(), "no such file") {
		t.Errorf("Start = %v, want a missing-directory error", err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the program ran")
	}
}
