//go:build darwin || freebsd || windows

package proc

import "time"

// Where the watch on an adopted process is a blocking wait (kqueue, a
// process handle) rather than a descriptor the runtime's poller can be
// woken from, the watching goroutine waits at most releasePoll at a time
// and checks whether it was released.

// releasePoll bounds how long Release waits for the watching goroutine.
const releasePoll = 200 * time.Millisecond

// released reports whether Release was called.
func (a *Adopted) released() bool {
	select {
	case <-a.h.release:
		return true
	default:
		return false
	}
}

// Release lets go of the process without signalling it: the watch ends.
// Signal fails afterwards, and Exited closes only if the process had
// exited before.
func (a *Adopted) Release() {
	a.once.Do(func() {
		close(a.h.release)
		<-a.loop
	})
}
