//go:build unix

package daemon

import "golang.org/x/sys/unix"

// executable says why the process cannot execute the file at path, nil if
// it can.
func executable(path string) error { return unix.Access(path, unix.X_OK) }
