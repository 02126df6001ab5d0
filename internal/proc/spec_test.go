package proc

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// A failed Start removes Dir and names the cause.
func TestStartFailure(t *testing.T) {
	t.Parallel()
	if _, err := Start(Spec{}); !errors.Is(err, ErrEmptyPath) {
		t.Errorf("Start with no path = %v, want ErrEmptyPath", err)
	}
	dir, err := os.MkdirTemp("", "proc-dir-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	missing := filepath.Join(t.TempDir(), "missing")
	if _, err := Start(Spec{Path: missing, Dir: dir}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Start of a missing program = %v, want ErrNotExist", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("Dir still there after a failed Start: %v", err)
	}
}
