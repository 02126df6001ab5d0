package spool

import (
	"errors"
	"fmt"
)

// Windows neither punches holes into spool files nor skips them: the file
// grows while the plugin runs (reported once through OnPunchError).

// nextData says the system cannot tell where data starts.
func nextData(fd int, off int64) (int64, bool) { return off, false }

// punchHole reports that blocks are not freed here.
func punchHole(fd int, off, length int64) error {
	return fmt.Errorf("%w on Windows: %w", errNoHoles, errors.ErrUnsupported)
}
