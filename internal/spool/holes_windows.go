package spool

import (
	"errors"
	"fmt"
	"math"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Windows frees the blocks a follower has read by marking the spool file
// sparse (FSCTL_SET_SPARSE) and zeroing the read range
// (FSCTL_SET_ZERO_DATA): NTFS and ReFS deallocate the zeroed whole
// allocation units of a sparse file, and PunchChunk is a multiple of them.
// A Follower that starts inside such a range skips to the next allocated
// one (FSCTL_QUERY_ALLOCATED_RANGES), as SEEK_DATA does on Unix. A volume
// without sparse files (FAT32, exFAT) gives errNoHoles: the file grows
// while the plugin runs, reported once through OnPunchError.
//
// The file descriptor of the shared code is the file's Handle here.
//
// No Windows machine runs the tests: this file is only compiled, vetted and
// staticchecked (GOOS=windows); when to free which range is Follower.punch,
// tested on Linux.

// punchHole frees the blocks of length bytes at off, keeping the size.
// Marking a file sparse that already is costs one call and changes nothing.
func punchHole(fd int, off, length int64) error {
	h := windows.Handle(fd)
	var n uint32
	if err := windows.DeviceIoControl(h, windows.FSCTL_SET_SPARSE, nil, 0, nil, 0, &n, nil); err != nil {
		if !sparseVolume(h) || errors.Is(err, windows.ERROR_INVALID_FUNCTION) ||
			errors.Is(err, windows.ERROR_NOT_SUPPORTED) {
			return fmt.Errorf("%w: FSCTL_SET_SPARSE: %w", errNoHoles, err)
		}
		return fmt.Errorf("FSCTL_SET_SPARSE: %w", err)
	}
	z := windows.FileZeroDataInformation{FileOffset: off, BeyondFinalZero: off + length}
	err := windows.DeviceIoControl(h, windows.FSCTL_SET_ZERO_DATA,
		(*byte)(unsafe.Pointer(&z)), uint32(unsafe.Sizeof(z)), nil, 0, &n, nil)
	if err != nil {
		return fmt.Errorf("FSCTL_SET_ZERO_DATA: %w", err)
	}
	return nil
}

// sparseVolume reports whether the volume of the file h says it supports
// sparse files (true when it cannot tell: the caller's error stands then).
func sparseVolume(h windows.Handle) bool {
	var flags uint32
	if err := windows.GetVolumeInformationByHandle(h, nil, 0, nil, nil, &flags, nil, 0); err != nil {
		return true
	}
	return flags&windows.FILE_SUPPORTS_SPARSE_FILES != 0
}

// allocatedRange is FILE_ALLOCATED_RANGE_BUFFER.
type allocatedRange struct {
	offset, length int64
}

// nextData is the offset of the first allocated byte at or after off in
// the file h, and whether the system could tell (not when nothing is
// allocated after off, as SEEK_DATA's ENXIO).
func nextData(fd int, off int64) (int64, bool) {
	in := allocatedRange{offset: off, length: math.MaxInt64 - off}
	var out allocatedRange // the first range is enough: ERROR_MORE_DATA is no failure
	var n uint32
	err := windows.DeviceIoControl(windows.Handle(fd), windows.FSCTL_QUERY_ALLOCATED_RANGES,
		(*byte)(unsafe.Pointer(&in)), uint32(unsafe.Sizeof(in)),
		(*byte)(unsafe.Pointer(&out)), uint32(unsafe.Sizeof(out)), &n, nil)
	if (err != nil && !errors.Is(err, windows.ERROR_MORE_DATA)) || n < uint32(unsafe.Sizeof(out)) {
		return off, false
	}
	return max(off, out.offset), true
}
