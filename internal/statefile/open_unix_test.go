//go:build unix

package statefile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadRefusesSymlink: a state file that is a symbolic link (to
// /dev/zero, or to a file holding valid state) is refused, not followed.
func TestReadRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "elsewhere.json")
	if err := os.WriteFile(target, []byte(`{"version": 1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, to := range []string{target, "/dev/zero"} {
		path := filepath.Join(dir, "state-"+filepath.Base(to)+".json")
		if err := os.Symlink(to, path); err != nil {
			t.Fatal(err)
		}
		err := readSoon(t, path)
		var nr *NotRegularError
		if !errors.As(err, &nr) || nr.Path != path || !strings.Contains(err.Error(), "is a symbolic link, not a regular file") {
			t.Fatalf("Read of a link to %s: %v, want a *NotRegularError naming %s as a symbolic link", to, err, path)
		}
	}
}
