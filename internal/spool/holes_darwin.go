package spool

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// macOS frees the blocks a follower has read with fcntl(F_PUNCHHOLE) (APFS
// supports it; HFS+ does not, and reports ENOTSUP), and skips holes with
// SEEK_DATA.

// punchHole frees the blocks of length bytes at off, keeping the size.
// F_PUNCHHOLE takes a struct fpunchhole {uint32 flags, reserved; off_t
// offset, length}, the same layout as the start of fstore_t, which is how
// x/sys/unix passes it.
func punchHole(fd int, off, length int64) error {
	err := unix.FcntlFstore(uintptr(fd), unix.F_PUNCHHOLE, &unix.Fstore_t{Offset: off, Length: length})
	if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("%w: %w", errNoHoles, err)
	}
	return err
}
