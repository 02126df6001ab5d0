package tether

import (
	"context"
	"net"
	"testing"
	"time"
)

// TestDialedTCPConnIsBare: the dialer hands gRPC the *net.TCPConn itself,
// not a wrapper, since gRPC sets TCP_USER_TIMEOUT (the keepalive timeout of
// network plugins' connections) only on a *net.TCPConn; the connection
// still counts as reached for a start that times out.
func TestDialedTCPConnIsBare(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	var p dialProgress
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	key := "tcp:" + lis.Addr().String()
	conn, err := p.dialEndpoint(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, ok := conn.(*net.TCPConn); !ok {
		t.Errorf("the dialer returned a %T, want the *net.TCPConn gRPC can set TCP_USER_TIMEOUT on", conn)
	}
	p.setSecure(key, true)
	if why := p.stuck(); why != lis.Addr().String()+" accepted the connection but did not complete the TLS handshake" {
		t.Errorf("stuck() = %q after a dial", why)
	}
}
