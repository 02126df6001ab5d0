//go:build !unix

package supervise

import "syscall"

// signalName is the signal's name as the platform says it.
func signalName(s syscall.Signal) string { return s.String() }
