package daemon

import (
	"fmt"
	"os"
	"path/filepath"
)

// DefaultDataDir is the data directory of a manifest that names none:
// %LocalAppData%\tether (the user's local, non-roaming application data),
// else %USERPROFILE%\AppData\Local\tether; on Unix,
// $XDG_STATE_HOME/tether, else ~/.local/state/tether.
//
// No Windows machine runs the tests: this file is only compiled, vetted and
// staticchecked (GOOS=windows).
func DefaultDataDir() (string, error) {
	if x := os.Getenv("LOCALAPPDATA"); filepath.IsAbs(x) {
		return filepath.Join(x, "tether"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no data_dir, no %%LocalAppData%% and no home directory: %w", err)
	}
	return filepath.Join(home, "AppData", "Local", "tether"), nil
}
