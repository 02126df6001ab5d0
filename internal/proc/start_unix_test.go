//go:build unix

package proc

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// The file whose checksum was verified is the one executed, even when
// another program is renamed over the path right after the check.
func TestChecksumExecutesHashedFile(t *testing.T) {
	dir := t.TempDir()
	good := script(t, dir, "plugin", "echo checked\n")
	other := script(t, dir, "other", "echo unchecked\n")
	beforeStart = func() {
		if err := os.Rename(other, good); err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(func() { beforeStart = func() {} })
	p := start(t, Spec{Path: good, Checksum: sum(t, good)})
	if l := mustHandshake(t, p); l != "checked\n" {
		t.Errorf("ran the program that printed %q, want the checked one", l)
	}
}

// A checked binary runs from its descriptor with the user's argv[0], after
// the host pipe in the descriptor layout.
func TestChecksumBinaryArgv0(t *testing.T) {
	t.Parallel()
	bin := helperBin(t)
	p := start(t, Spec{Path: bin, Args: []string{"argv0"}, Checksum: sum(t, bin), DieWithHost: true})
	if l := mustHandshake(t, p); l != bin+"\n" {
		t.Errorf("argv[0] = %q, want %q", l, bin)
	}
	waitExited(t, p, 5*time.Second)
	if p.ExitCode() != 0 {
		t.Errorf("ExitCode = %d", p.ExitCode())
	}
}

func TestChecksumMismatch(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	path := script(t, dir, "p", "touch "+marker+"\n")
	_, err := Start(Spec{Path: path, Checksum: make([]byte, 32)})
	if !errors.Is(err, ErrChecksumMismatch) {
		t.Errorf("Start = %v, want ErrChecksumMismatch", err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("a program whose checksum did not match ran")
	}
}

// A path without a slash is relative to the working directory, never looked
// up in $PATH.
func TestPathNotLookedUp(t *testing.T) {
	onPath, cwd := t.TempDir(), t.TempDir()
	marker := filepath.Join(onPath, "ran")
	script(t, onPath, "tetherproc-same", "touch "+marker+"\necho from PATH\n")
	script(t, cwd, "tetherproc-same", "echo from cwd\n")
	t.Setenv("PATH", onPath+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Chdir(cwd)
	p := start(t, Spec{Path: "tetherproc-same"})
	if l := mustHandshake(t, p); l != "from cwd\n" {
		t.Errorf("ran the program that printed %q, want the one in the working directory", l)
	}
	if err := os.Remove(filepath.Join(cwd, "tetherproc-same")); err != nil {
		t.Fatal(err)
	}
	if p, err := Start(Spec{Path: "tetherproc-same"}); err == nil {
		waitExited(t, p, 5*time.Second)
		t.Error("Start of a name missing from the working directory succeeded")
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the same-named program on $PATH ran")
	}
}

// With DieWithHost the plugin reads EOF on its host pipe once the host
// closes it, and not before, even while another child of the host runs.
func TestHostPipe(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := start(t, Spec{Path: script(t, dir, "p", "echo \"fd=$"+EnvHostPipe+"\"\ncat <&3 >/dev/null\necho eof\n"), DieWithHost: true})
	if l := mustHandshake(t, p); l != "fd=3\n" {
		t.Fatalf("first line %q, want fd=3", l)
	}
	next := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(p.Stdout()).ReadString('\n')
		next <- l
	}()
	// Another child started now must not hold the write end.
	other := start(t, Spec{Path: script(t, dir, "other", "echo ready\nexec sleep 1000\n")})
	mustHandshake(t, other)
	select {
	case l := <-next:
		t.Fatalf("plugin printed %q before the host pipe was closed", l)
	case <-time.After(300 * time.Millisecond):
	}
	p.closeHostPipe()
	select {
	case l := <-next:
		if l != "eof\n" {
			t.Errorf("after close: %q, want eof", l)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("plugin saw no EOF on its host pipe within 5s of the close")
	}
	waitExited(t, p, 5*time.Second)
}

// The plugin leads its own process group.
func TestSetpgid(t *testing.T) {
	t.Parallel()
	p := start(t, Spec{Path: script(t, t.TempDir(), "p", "echo ready\nexec sleep 1000\n")})
	mustHandshake(t, p)
	if pg, err := syscall.Getpgid(p.Pid()); err != nil || pg != p.Pid() {
		t.Errorf("process group %d (%v), want %d", pg, err, p.Pid())
	}
}

// TestStartWhileTheFileIsBusy: a program whose file is still open for
// writing somewhere (a fork of the host holds the descriptor of the file it
// has just written) starts once the writer lets go, instead of failing with
// "text file busy".
func TestStartWhileTheFileIsBusy(t *testing.T) {
	t.Parallel()
	path := script(t, t.TempDir(), "p", "echo hs\n")
	w, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	released := time.AfterFunc(30*time.Millisecond, func() { w.Close() })
	defer released.Stop()
	p := start(t, Spec{Path: path})
	if l := mustHandshake(t, p); l != "hs\n" {
		t.Errorf("handshake %q", l)
	}
}
