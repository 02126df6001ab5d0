package fastrpc

import (
	"math/bits"
	"sync"
)

// Buffers come from pools by power-of-two class, 512 B to 4 MiB: large
// messages would otherwise take fresh memory on every call, and on the
// machines measured the page faults made a 1 MiB echo several times slower
// than grpc-go, which pools its buffers too.
const (
	minClassBits = 9
	maxClassBits = 22
)

var pools [maxClassBits - minClassBits + 1]sync.Pool

// class is the smallest class holding n bytes; -1 when n is above them all.
func class(n int) int {
	if n <= 1<<minClassBits {
		return 0
	}
	c := bits.Len(uint(n-1)) - minClassBits
	if c >= len(pools) {
		return -1
	}
	return c
}

// getBuf returns an empty buffer of the smallest class.
func getBuf() *[]byte { return getSized(0) }

// getSized returns an empty buffer with room for n bytes.
func getSized(n int) *[]byte {
	c := class(n)
	if c < 0 {
		b := make([]byte, 0, n)
		return &b
	}
	if p, ok := pools[c].Get().(*[]byte); ok {
		return p
	}
	b := make([]byte, 0, 1<<(c+minClassBits))
	return &b
}

// putBuf returns a buffer to the pool of the class its capacity fills.
func putBuf(p *[]byte) {
	n := cap(*p)
	if n < 1<<minClassBits {
		return
	}
	c := bits.Len(uint(n)) - 1 - minClassBits
	if c >= len(pools) {
		return
	}
	*p = (*p)[:0]
	pools[c].Put(p)
}

// growBuf makes room for n more bytes after b, moving b into a pooled
// buffer when it has to grow; the old array is left to the collector.
func growBuf(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b
	}
	nb := getSized(len(b) + n)
	return append(*nb, b...)
}

// recycle returns a received payload's buffer once it has been decoded;
// small ones are left to the collector.
func recycle(b []byte) {
	if cap(b) >= 4<<10 {
		b = b[:0]
		putBuf(&b)
	}
}
