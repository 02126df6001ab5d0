//go:build linux || darwin || freebsd

package spool

import "golang.org/x/sys/unix"

// A Follower that starts inside a punched hole skips to the next data with
// SEEK_DATA.

// nextData is the offset of the first byte of data at or after off in the
// file of descriptor fd, and whether the system could tell.
func nextData(fd int, off int64) (int64, bool) {
	pos, err := unix.Seek(fd, off, unix.SEEK_DATA)
	return pos, err == nil
}
