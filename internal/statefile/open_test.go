//go:build unix

package statefile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// readSoon is Read, failing the test if it does not return within 5 s.
func readSoon(t *testing.T, path string) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		var s state
		done <- Read(path, &s)
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatalf("Read(%s) did not return within 5 s", path)
		return nil
	}
}

// TestReadRefusesFIFO: a FIFO in place of the state file is refused at
// once instead of blocking the reader for ever.
func TestReadRefusesFIFO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // unblocks a reader stuck in open (before the fix)
		if f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			_ = f.Close()
		}
	})
	err := readSoon(t, path)
	var nr *NotRegularError
	if !errors.As(err, &nr) || !strings.Contains(err.Error(), path+" is a named pipe (FIFO), not a regular file") {
		t.Errorf("Read of a FIFO: %v, want a *NotRegularError naming it", err)
	}
}

// TestReadSizeCap: a state file larger than MaxSize is corrupt, and is not
// read whole.
func TestReadSizeCap(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	big := make([]byte, MaxSize+10)
	big[0] = '"'
	for i := 1; i < len(big); i++ {
		big[i] = 'a'
	}
	big[len(big)-1] = '"'
	if _, err := f.Write(big); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	var s string
	err = Read(path, &s)
	var ce *CorruptError
	if !errors.As(err, &ce) || !errors.Is(err, errTooLarge) {
		t.Errorf("Read of a %d-byte file: %v, want a *CorruptError saying it is too large", len(big), err)
	}
}

// TestReadRefusesOtherOwner: a state file another user owns (who could
// forge it) is refused, naming its owner.
func TestReadRefusesOtherOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("giving a file to another user takes root")
	}
	path := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(path, []byte(`{"version": 1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	err := readSoon(t, path)
	var oe *OwnerError
	if !errors.As(err, &oe) || oe.UID != 65534 || !strings.Contains(err.Error(), path+" is owned by uid 65534") {
		t.Errorf("Read of a file of uid 65534: %v, want an *OwnerError naming it", err)
	}
}

// TestCheckDir: a directory of another user, and a symbolic link in place
// of a directory, are refused.
func TestCheckDir(t *testing.T) {
	dir := t.TempDir()
	if err := CheckDir(dir); err != nil {
		t.Errorf("own directory: %v", err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	if err := CheckDir(link); err == nil || !strings.Contains(err.Error(), "is a symbolic link, not a directory") {
		t.Errorf("a link: %v", err)
	}
	if os.Geteuid() != 0 {
		return
	}
	other := filepath.Join(dir, "other")
	if err := os.Mkdir(other, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(other, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	var oe *OwnerError
	if err := CheckDir(other); !errors.As(err, &oe) || oe.UID != 65534 {
		t.Errorf("a directory of uid 65534: %v, want an *OwnerError", err)
	}
}
