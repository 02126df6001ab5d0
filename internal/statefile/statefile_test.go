package statefile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type state struct {
	Instances map[string]int `json:"instances"`
	Version   int            `json:"version"`
}

func TestWriteRead(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	want := state{Instances: map[string]int{"a": 1, "b": 2}, Version: 3}
	if err := Write(path, want); err != nil {
		t.Fatal(err)
	}
	var got state
	if err := Read(path, &got); err != nil {
		t.Fatal(err)
	}
	if got.Version != 3 || len(got.Instances) != 2 || got.Instances["b"] != 2 {
		t.Errorf("read %+v, want %+v", got, want)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	// A second write replaces the first and leaves no temporary file.
	if err := Write(path, state{Version: 4}); err != nil {
		t.Fatal(err)
	}
	if err := Read(path, &got); err != nil || got.Version != 4 {
		t.Errorf("after rewrite: %+v, %v", got, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the state file", len(entries))
	}
}

// Write makes the file 0600 whatever the umask, and the file is not
// world-readable even before the rename.
func TestWriteModeIgnoresExistingMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(path, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, state{}); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestReadMissing(t *testing.T) {
	var s state
	err := Read(filepath.Join(t.TempDir(), "none.json"), &s)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Read = %v, want fs.ErrNotExist", err)
	}
	var ce *CorruptError
	if errors.As(err, &ce) {
		t.Error("a missing file is reported as corrupt")
	}
}

func TestReadCorrupt(t *testing.T) {
	dir := t.TempDir()
	full := `{"instances":{"a":1},"version":3}`
	for name, content := range map[string]string{
		"empty":     "",
		"truncated": full[:len(full)/2],
		"garbage":   "\x00\x01not json",
		"wrongtype": `{"version":"three"}`,
		"trailing":  full + " {}",
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		var s state
		err := Read(path, &s)
		var ce *CorruptError
		if !errors.As(err, &ce) {
			t.Errorf("%s: Read = %v, want *CorruptError", name, err)
			continue
		}
		if ce.Path != path || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %q does not name %s", name, err, path)
		}
		if errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: a corrupt file is reported as missing", name)
		}
	}
}

// A failed write (unencodable value) leaves the previous file as it was.
func TestWriteFailureKeepsOld(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	if err := Write(path, state{Version: 1}); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, map[string]any{"f": func() {}}); err == nil {
		t.Fatal("Write of a func succeeded")
	}
	var s state
	if err := Read(path, &s); err != nil || s.Version != 1 {
		t.Errorf("after failed write: %+v, %v", s, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries after a failed write", len(entries))
	}
}

func TestWriteMissingDir(t *testing.T) {
	err := Write(filepath.Join(t.TempDir(), "no", "state.json"), state{})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Write = %v, want fs.ErrNotExist", err)
	}
}

// FuzzRead: any bytes give nil or a *CorruptError, never a panic.
func FuzzRead(f *testing.F) {
	f.Add([]byte(`{"instances":{"a":1},"version":3}`))
	f.Add([]byte(`{"instances":`))
	f.Add([]byte(""))
	f.Add([]byte("null"))
	f.Add([]byte(`{"version":1e400}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var s state
		err := decode("state.json", data, &s)
		var ce *CorruptError
		if err != nil && !errors.As(err, &ce) {
			t.Errorf("Read = %v, want nil or *CorruptError", err)
		}
	})
}
