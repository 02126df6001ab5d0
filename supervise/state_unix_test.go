//go:build unix

package supervise_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tetherplug/tether/supervise"
)

// TestNewRefusesIrregularStateFile: a state.json that is a FIFO (or a link)
// stops New at once with an error naming it, instead of blocking it (or
// reading /dev/zero until memory runs out).
func TestNewRefusesIrregularStateFile(t *testing.T) {
	t.Parallel()
	// In this order, failing at the first: before the fix the link would
	// be read until memory runs out.
	for _, c := range []struct {
		what string
		mk   func(path string) error
	}{
		{"a named pipe (FIFO)", func(path string) error { return syscall.Mkfifo(path, 0o600) }},
		{"a symbolic link", func(path string) error { return os.Symlink("/dev/zero", path) }},
	} {
		what := c.what
		dir := t.TempDir()
		path := filepath.Join(dir, "state.json")
		if err := c.mk(path); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			s, err := supervise.New(supervise.Config{Dir: dir, Logger: quiet()})
			if err == nil {
				closeSupervisor(t, s)
			}
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), path+" is "+what+", not a regular file") {
				t.Fatalf("New over %s: %v; want a refusal naming it", what, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("New over %s did not return within 5 s", what)
		}
	}
}
