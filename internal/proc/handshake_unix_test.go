//go:build unix

package proc

import (
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

// A first line longer than MaxLine is ErrLineTooLong with its first bytes,
// and the plugin is not left blocked writing the rest.
func TestHandshakeLineTooLong(t *testing.T) {
	t.Parallel()
	var errs lines
	path := script(t, t.TempDir(), "p", "head -c 1048576 /dev/zero | tr '\\0' x\necho\necho done >&2\n")
	p := start(t, Spec{Path: path, Stderr: errs.add})
	l, err := handshake(t, p)
	if !errors.Is(err, ErrLineTooLong) {
		t.Errorf("ReadHandshake error %v, want ErrLineTooLong", err)
	}
	if len(l) != MaxLine || strings.Trim(l, "x") != "" {
		t.Errorf("ReadHandshake gave %d bytes, want %d of what was printed", len(l), MaxLine)
	}
	waitExited(t, p, 5*time.Second)
	if p.ExitCode() != 0 || !slices.Equal(errs.get(), []string{"done\n"}) {
		t.Errorf("exit %d, stderr %q: the plugin did not finish writing", p.ExitCode(), errs.get())
	}
}

func TestHandshakeEOF(t *testing.T) {
	t.Parallel()
	p := start(t, Spec{Path: script(t, t.TempDir(), "p", "printf partial\nexit 2\n")})
	l, err := handshake(t, p)
	if err != io.EOF || l != "partial" {
		t.Errorf("ReadHandshake = %q, %v; want partial, EOF", l, err)
	}
	waitExited(t, p, 5*time.Second)
	if p.ExitCode() != 2 {
		t.Errorf("ExitCode = %d", p.ExitCode())
	}
}

func TestStdoutAfterHandshake(t *testing.T) {
	t.Parallel()
	p := start(t, Spec{Path: script(t, t.TempDir(), "p", "echo hs\necho one\necho two\n")})
	if l := mustHandshake(t, p); l != "hs\n" {
		t.Fatalf("handshake %q", l)
	}
	rest := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(p.Stdout())
		rest <- string(b)
	}()
	select {
	case r := <-rest:
		if r != "one\ntwo\n" {
			t.Errorf("rest of stdout %q", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("stdout not at EOF within 5s")
	}
}
