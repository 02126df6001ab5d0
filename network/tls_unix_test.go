//go:build unix

package network_test

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/tetherplug/tether/network"
)

// TestUnreachableAddress: nothing listening fails naming the refused
// connection.
func TestUnreachableAddress(t *testing.T) {
	t.Parallel()
	err := openFails(t, "tcp://"+boundNotListening(t), 2*time.Second, network.WithInsecure())
	wantIn(t, err, "connection refused")
}

// boundNotListening returns a loopback address where nothing listens and
// nothing can until the test ends: a socket is bound there and never
// listens, so connecting is refused. (Closing a listener would free the
// port for a parallel test's listener.)
func boundNotListening(t *testing.T) string {
	t.Helper()
	syscall.ForkLock.RLock() // no child inherits it before close-on-exec is set
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
}
