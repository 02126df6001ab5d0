//go:build unix

package proc

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// The private copy that stands in for /proc/self/fd outside Linux (and is
// tested here on Linux): it is what was hashed, lives in a directory only
// this user can enter, runs, and survives a rename over the original; a
// mismatch leaves nothing behind.
func TestPrivateCopy(t *testing.T) {
	tmp := t.TempDir() // where the copies go, so that what is left there is this test's
	t.Setenv("TMPDIR", tmp)
	dir := t.TempDir()
	path := script(t, dir, "p", "echo copied\n")
	want := sum(t, path)
	copyPath, copyDir, err := privateCopy(path, want)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeDir(copyDir) })
	if fi, err := os.Stat(copyDir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("copy directory %s: %v, mode %v; want 0700", copyDir, err, fi.Mode().Perm())
	}
	if filepath.Base(copyPath) != "p" || filepath.Dir(copyPath) != copyDir {
		t.Errorf("copy at %s, want %s/p", copyPath, copyDir)
	}
	// A program renamed over the original after the check does not run.
	evil := script(t, dir, "evil", "echo evil\n")
	if err := os.Rename(evil, path); err != nil {
		t.Fatal(err)
	}
	p := start(t, Spec{Path: copyPath})
	if l := mustHandshake(t, p); l != "copied\n" {
		t.Errorf("the copy printed %q, want the checked program's line", l)
	}

	if _, d, err := privateCopy(path, want); !errors.Is(err, ErrChecksumMismatch) || d != "" {
		t.Fatalf("copy of a changed program: %q, %v; want ErrChecksumMismatch and no directory", d, err)
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "tether-checked-*")); len(left) != 1 || left[0] != copyDir {
		t.Errorf("copies in %s: %q; want only the first one's directory", tmp, left)
	}
}
