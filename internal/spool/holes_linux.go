package spool

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// Linux frees the blocks a follower has read by punching holes into the
// spool file (fallocate), and skips holes with SEEK_DATA.

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
