package tethertest_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tetherplug/tether/tethertest"
)

// fatalT records a Fatalf and ends its goroutine, as testing.T does.
type fatalT struct {
	testing.TB
	msg string
}

func (f *fatalT) Helper() {}

func (f *fatalT) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestRecv(t *testing.T) {
	ch := make(chan int, 1)
	ch <- 7
	if got := tethertest.Recv(t, ch, time.Second); got != 7 {
		t.Errorf("Recv = %d, want 7", got)
	}
	done := make(chan struct{})
	close(done)
	tethertest.Recv(t, done, time.Second) // a closed channel delivers at once

	ft := &fatalT{TB: t}
	returned := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(returned)
		tethertest.Recv(ft, make(chan int), 50*time.Millisecond)
	}()
	select {
	case <-returned:
	case <-time.After(5 * time.Second):
		t.Fatal("Recv on a silent channel did not give up")
	}
	if ft.msg == "" || !strings.Contains(ft.msg, "50ms") {
		t.Errorf("Recv on a silent channel: Fatalf message %q, want one naming the wait", ft.msg)
	}
	if e := time.Since(start); e < 50*time.Millisecond {
		t.Errorf("Recv gave up after %v, before its 50ms", e)
	}
}
