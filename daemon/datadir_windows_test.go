package daemon

import (
	"path/filepath"
	"testing"
)

// On Windows a manifest without data_dir keeps its state in
// %LocalAppData%\tether, and $XDG_STATE_HOME plays no part.
func TestDefaultDataDirWindows(t *testing.T) {
	local := t.TempDir()
	t.Setenv("LOCALAPPDATA", local)
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	got, err := DefaultDataDir()
	if err != nil || got != filepath.Join(local, "tether") {
		t.Errorf("DefaultDataDir() = %q, %v; want %q", got, err, filepath.Join(local, "tether"))
	}
	home := t.TempDir()
	t.Setenv("LOCALAPPDATA", "")
	t.Setenv("USERPROFILE", home)
	got, err = DefaultDataDir()
	if want := filepath.Join(home, "AppData", "Local", "tether"); err != nil || got != want {
		t.Errorf("without LOCALAPPDATA: DefaultDataDir() = %q, %v; want %q", got, err, want)
	}
}
