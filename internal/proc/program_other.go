//go:build !linux

package proc

import "os"

// checkedProgram runs a private copy of path whose SHA-256 is sum (see
// privateCopy): only Linux can execute an open descriptor
// (/proc/self/fd/N); elsewhere a copy no other user can write stands in for
// it. The copy's directory is removed once the process has exited.
func checkedProgram(path string, sum []byte, files []*os.File) (string, []*os.File, string, error) {
	copyPath, dir, err := privateCopy(path, sum)
	return copyPath, files, dir, err
}
