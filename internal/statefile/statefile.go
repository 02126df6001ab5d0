// Package statefile writes and reads a JSON state file atomically: a reader
// sees either the old content or the new, never a mix, even if the host is
// killed or the machine loses power in the middle of a write.
//
// Write encodes to a temporary file in the same directory (mode 0600),
// fsyncs it, renames it over the path and fsyncs the directory, so that the
// rename itself is durable. Read tells a missing file (fs.ErrNotExist) from
// one that is truncated or corrupt (*CorruptError), so that a caller can
// start clean with a warning naming the file in the second case.
package statefile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// CorruptError says that the state file at Path exists but does not hold a
// complete JSON document of the expected shape. Err is the decoding error.
type CorruptError struct {
	Path string
	Err  error
}

// Error names the file and the cause.
func (e *CorruptError) Error() string {
	return fmt.Sprintf("state file %s is corrupt: %v", e.Path, e.Err)
}

// Unwrap returns the decoding error.
func (e *CorruptError) Unwrap() error { return e.Err }

// Write stores v, encoded as JSON, at path atomically and durably. The file
// is owner-only (0600); path's directory must exist. On error the previous
// content of path is unchanged and no temporary file is left behind.
func Write(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("state file %s: encoding: %w", path, err)
	}
	data = append(data, '\n')
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("state file %s: %w", path, err)
	}
	tmpName := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			_ = tmp.Close()
			_ = os.Remove(tmpName)
		}
	}()
	// CreateTemp makes 0600 files; Chmod makes sure of it whatever the umask.
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("state file %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("state file %s: writing: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("state file %s: fsync: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("state file %s: %w", path, err)
	}
	if err := os.Rename(tmpName, path); err != nil {
		return fmt.Errorf("state file %s: %w", path, err)
	}
	ok = true
	return syncDir(dir)
}

// syncDir fsyncs directory dir, making a rename in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("state directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("state directory %s: fsync: %w", dir, err)
	}
	return nil
}

// MaxSize bounds the state file Read reads.
const MaxSize = 16 << 20

// Read decodes the JSON state file at path into v. A missing file gives an
// error wrapping fs.ErrNotExist; an empty, truncated or corrupt one (or one
// whose JSON does not fit v, that has trailing data, or that is larger than
// MaxSize) gives a *CorruptError naming the file. Anything but a regular
// file owned by the process's user is refused without being read (a
// symbolic link is not followed, a FIFO does not block): a
// *NotRegularError or *OwnerError. Other errors (permissions, I/O) are
// returned as they are.
func Read(path string, v any) error {
	f, err := OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return fmt.Errorf("state file %s: %w", path, err)
	}
	if len(data) > MaxSize {
		return &CorruptError{Path: path, Err: fmt.Errorf("%w (%d MiB)", errTooLarge, MaxSize>>20)}
	}
	return decode(path, data, v)
}

// decode is Read's decoding of data, the content of path.
func decode(path string, data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		if len(bytes.TrimSpace(data)) == 0 {
			err = errors.New("empty file")
		}
		return &CorruptError{Path: path, Err: err}
	}
	if dec.More() {
		return &CorruptError{Path: path, Err: errors.New("trailing data after the JSON document")}
	}
	return nil
}
