//go:build !windows

package daemon

import (
	"fmt"
	"os"
	"path/filepath"
)

// DefaultDataDir is the data directory of a manifest that names none:
// $XDG_STATE_HOME/tether, else ~/.local/state/tether (on Windows,
// %LocalAppData%\tether).
func DefaultDataDir() (string, error) {
	if x := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(x) {
		return filepath.Join(x, "tether"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no data_dir, no $XDG_STATE_HOME and no home directory: %w", err)
	}
	return filepath.Join(home, ".local", "state", "tether"), nil
}
