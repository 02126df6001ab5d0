package spool

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// FreeBSD skips holes with SEEK_DATA but does not punch them: its
// fspacectl(2) has no wrapper in golang.org/x/sys, so the spool file grows
// while the plugin runs (reported once through OnPunchError).

// nextData is the offset of the first byte of data at or after off in the
// file of descriptor fd, and whether the system could tell.
func nextData(fd int, off int64) (int64, bool) {
	pos, err := unix.Seek(fd, off, unix.SEEK_DATA)
	return pos, err == nil
}

// errNoHoles is wrapped by punchHole's error: hole punching is not used.
var errNoHoles = errors.New("no hole punching")

// punchHole reports that blocks are not freed here.
func punchHole(fd int, off, length int64) error {
	return fmt.Errorf("%w on FreeBSD: %w", errNoHoles, errors.ErrUnsupported)
}
