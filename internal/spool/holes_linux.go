package spool

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// Linux frees the blocks a follower has read by punching holes into the
// spool file (fallocate), and skips holes with SEEK_DATA.

// nextData is the offset of the first byte of data at or after off in the
// file of descriptor fd, and whether the system could tell.
func nextData(fd int, off int64) (int64, bool) {
	pos, err := unix.Seek(fd, off, unix.SEEK_DATA)
	return pos, err == nil
}

// errNoHoles is wrapped by punchHole's error when the file system cannot
// punch holes.
var errNoHoles = errors.New("no hole punching")

// punchHole frees the blocks of length bytes at off, keeping the size.
func punchHole(fd int, off, length int64) error {
	err := fallocate(fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, length)
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) {
		return fmt.Errorf("%w: %w", errNoHoles, err)
	}
	return err
}

// fallocate is unix.Fallocate; tests replace it.
var fallocate = unix.Fallocate
