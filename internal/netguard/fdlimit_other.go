//go:build !unix

package netguard

// fdLimit reports no descriptor limit where the system has none to read.
func fdLimit() (uint64, bool) { return 0, false }
