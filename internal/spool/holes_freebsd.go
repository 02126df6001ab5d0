package spool

import (
	"errors"
	"fmt"
)

// FreeBSD skips holes with SEEK_DATA but does not punch them: its
// fspacectl(2) has no wrapper in golang.org/x/sys, so the spool file grows
// while the plugin runs (reported once through OnPunchError).

// punchHole reports that blocks are not freed here.
func punchHole(fd int, off, length int64) error {
	return fmt.Errorf("%w on FreeBSD: %w", errNoHoles, errors.ErrUnsupported)
}
