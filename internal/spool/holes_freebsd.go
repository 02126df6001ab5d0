package spool

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// FreeBSD 14 and later free the blocks a follower has read with
// fspacectl(2) SPACECTL_DEALLOC, on file systems that deallocate natively
// (ZFS, tmpfs: fpathconf(_PC_DEALLOC_PRESENT) says 1), and skip holes with
// SEEK_DATA (seekdata_unix.go). Elsewhere (UFS, whose generic
// implementation only writes zeros, and FreeBSD 13, which has no
// fspacectl) the spool file grows while the plugin runs, reported once
// through OnPunchError.
//
// No FreeBSD machine runs the tests: this file is only compiled, vetted and
// staticchecked (GOOS=freebsd); when to free which range is Follower.punch,
// tested on Linux.

// golang.org/x/sys/unix has neither SYS_FSPACECTL nor the constants below:
// they come from FreeBSD's sys/kern/syscalls.master, sys/fcntl.h and
// sys/unistd.h.
const (
	sysFspacectl     = 580 // fspacectl(int fd, int cmd, const struct spacectl_range *rqsr, int flags, struct spacectl_range *rmsr)
	spacectlDealloc  = 1   // SPACECTL_DEALLOC
	pcDeallocPresent = 65  // _PC_DEALLOC_PRESENT
)

// spacectlRange is struct spacectl_range {off_t r_offset, r_len}.
type spacectlRange struct {
	offset, length int64
}

// punchHole frees the blocks of length bytes at off, keeping the size. A
// file system without native deallocation, or a kernel without fspacectl,
// gives errNoHoles: fspacectl would write zeros there and free nothing.
func punchHole(fd int, off, length int64) error {
	// FreeBSD 13 does not know the name (EINVAL), so fspacectl, which it
	// lacks, is never called there (an unknown system call also raises
	// SIGSYS, which Go ignores on FreeBSD).
	if v, err := unix.Fpathconf(fd, pcDeallocPresent); err != nil || v != 1 {
		return fmt.Errorf("%w: fpathconf(_PC_DEALLOC_PRESENT) = %d, %v", errNoHoles, v, err)
	}
	r := spacectlRange{offset: off, length: length}
	for r.length > 0 {
		before := r
		// rqsr and rmsr are the same structure: after an interruption
		// the kernel leaves in it the range still to free.
		_, _, e := unix.Syscall6(sysFspacectl, uintptr(fd), spacectlDealloc,
			uintptr(unsafe.Pointer(&r)), 0, uintptr(unsafe.Pointer(&r)), 0)
		switch {
		case e == unix.ENOSYS || e == unix.EOPNOTSUPP:
			return fmt.Errorf("%w: fspacectl: %w", errNoHoles, e)
		case e == unix.EINTR:
		case e != 0:
			return fmt.Errorf("fspacectl: %w", e)
		case r == before:
			return fmt.Errorf("fspacectl freed nothing of %d bytes at %d", r.length, r.offset)
		}
	}
	return nil
}
