package main

import (
	"testing"
	"time"
)

// stop kills serve (Windows has no SIGTERM to send it; the graceful drain
// is tested on Unix) and checks it is gone within 10 s.
func (s *served) stop(t *testing.T) {
	t.Helper()
	_ = s.cmd.Process.Kill()
	select {
	case err := <-s.exited:
		s.exited <- err
	case <-time.After(10 * time.Second):
		t.Fatal("tether serve did not exit within 10 s of its kill")
	}
}
