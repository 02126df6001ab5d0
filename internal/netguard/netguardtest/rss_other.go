//go:build !linux

package netguardtest

import "errors"

// RSS is unsupported where /proc is not: tests that need it skip.
func RSS(int) (int64, error) { return 0, errors.ErrUnsupported }
