//go:build !windows

package daemon

import (
	"path/filepath"
	"testing"
)

// TestDefaultDataDirXDG: off Windows the default data directory is
// $XDG_STATE_HOME/tether when that is set.
func TestDefaultDataDirXDG(t *testing.T) {
	xdg := t.TempDir()
	t.Setenv("XDG_STATE_HOME", xdg)
	dir, err := DefaultDataDir()
	if err != nil || dir != filepath.Join(xdg, "tether") {
		t.Errorf("DefaultDataDir() = %q, %v; want %s", dir, err, filepath.Join(xdg, "tether"))
	}
}
