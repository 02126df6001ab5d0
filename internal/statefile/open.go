package statefile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// NotRegularError says that a path a tether daemon keeps state, logs or
// output in is not a regular file (a symbolic link, a FIFO, a device...),
// which it refuses to read or write through.
type NotRegularError struct {
	Path string
	What string // "a symbolic link", "a named pipe (FIFO)", ...
}

// Error names the file and what it is.
func (e *NotRegularError) Error() string {
	return fmt.Sprintf("%s is %s, not a regular file: refusing to use it", e.Path, e.What)
}

// OwnerError says that a file or directory is owned by another user than
// the process's (effective) user, who could replace or forge what is in it.
type OwnerError struct {
	Path     string
	UID      int // its owner
	Expected int // the process's effective user id
}

// Error names the path and both users.
func (e *OwnerError) Error() string {
	return fmt.Sprintf("%s is owned by uid %d, not by this process's user (uid %d): refusing to use it",
		e.Path, e.UID, e.Expected)
}

// OpenFile is os.OpenFile for files that hold a daemon's state, logs or
// output: a symbolic link at path is not followed, a FIFO or device does not
// block the open, and anything but a regular file owned by the process's
// user is refused (*NotRegularError, *OwnerError).
func OpenFile(path string, flag int, perm os.FileMode) (*os.File, error) {
	f, err := os.OpenFile(path, flag|openFlags, perm)
	if err != nil {
		if fi, lerr := os.Lstat(path); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return nil, &NotRegularError{Path: path, What: "a symbolic link"}
		}
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil {
		err = CheckFile(path, fi)
	}
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return f, nil
}

// CheckFile refuses (with a *NotRegularError or *OwnerError) what fi, the
// file at path, says is not a regular file owned by the process's user.
func CheckFile(path string, fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return &NotRegularError{Path: path, What: kind(fi.Mode())}
	}
	return CheckOwner(path, fi)
}

// CheckDir refuses a directory at path that is not a directory (a symbolic
// link to one included) or that another user owns.
func CheckDir(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is %s, not a directory: refusing to use it", path, kind(fi.Mode()))
	}
	return CheckOwner(path, fi)
}

// CheckOwner returns an *OwnerError when fi, the file at path, belongs to
// another user than the process's effective user; nil where the system
// does not say (Windows).
func CheckOwner(path string, fi fs.FileInfo) error {
	if uid, ok := owner(fi); ok && uid != os.Geteuid() {
		return &OwnerError{Path: path, UID: uid, Expected: os.Geteuid()}
	}
	return nil
}

// kind says in words what type of file mode m is.
func kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m.IsDir():
		return "a directory"
	case m.IsRegular():
		return "a regular file"
	}
	return "not a regular file"
}

// errTooLarge is wrapped by the *CorruptError of a state file over MaxSize.
var errTooLarge = errors.New("larger than the state file limit")
