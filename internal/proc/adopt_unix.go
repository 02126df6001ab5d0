//go:build unix

package proc

import (
	"errors"
	"fmt"
	"io/fs"
)

// checkStart compares pid's start time with want.
func checkStart(pid int, want uint64) error {
	got, err := StartTime(pid)
	switch {
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrProcessGone):
		return fmt.Errorf("pid %d: %w", pid, ErrProcessGone)
	case err != nil:
		return err
	case got != want:
		return fmt.Errorf("pid %d started at %d, recorded %d: %w", pid, got, want, ErrNotSameProcess)
	}
	return nil
}
