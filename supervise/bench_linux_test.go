//go:build linux

package supervise_test

import (
	"fmt"
	"os"
	"runtime"
)

// memory is the live heap after a GC and the resident set size, in bytes.
func memory() (heap, rss uint64) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	b, _ := os.ReadFile("/proc/self/statm")
	var size, resident uint64
	_, _ = fmt.Sscan(string(b), &size, &resident)
	return m.HeapAlloc, resident * uint64(os.Getpagesize())
}
