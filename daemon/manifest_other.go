//go:build !unix

package daemon

// executable: without execute permission bits, a regular file is taken as
// executable; starting it says otherwise.
func executable(string) error { return nil }
