//go:build !unix

package statefile

import "io/fs"

// openFlags: the system has no O_NOFOLLOW nor O_NONBLOCK; OpenFile still
// checks, after the open, that it opened a regular file.
const openFlags = 0

// owner: files have no owner uid here.
func owner(fs.FileInfo) (int, bool) { return 0, false }
