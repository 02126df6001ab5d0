//go:build unix && !linux

package supervise_test

import "runtime"

// memory is the live heap after a GC, and 0 for the resident set size,
// which is read from /proc on Linux only.
func memory() (heap, rss uint64) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc, 0
}
