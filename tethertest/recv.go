package tethertest

import (
	"testing"
	"time"
)

// Recv receives from ch, or fails the test (t.Fatalf) if nothing arrives
// within d, so that a regression makes a test fail instead of hanging until
// the test binary's timeout. A closed channel delivers its zero value at
// once, so Recv also waits for a done channel to be closed:
//
//	err := tethertest.Recv(t, errc, 5*time.Second)
//	tethertest.Recv(t, client.Exited(), 5*time.Second)
func Recv[T any](t testing.TB, ch <-chan T, d time.Duration) T {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("nothing received within %v", d)
		var zero T
		return zero
	}
}
