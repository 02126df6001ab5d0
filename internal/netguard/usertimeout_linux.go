package netguard

import (
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// setUserTimeout sets the TCP_USER_TIMEOUT of a TCP connection, as gRPC
// does for its own (a failure changes nothing: the keepalive pings still
// end a dead connection).
func setUserTimeout(c net.Conn, d time.Duration) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return
	}
	_ = raw.Control(func(fd uintptr) {
		_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, int(d/time.Millisecond))
	})
}
