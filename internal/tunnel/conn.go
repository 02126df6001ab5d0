// Package tunnel turns a bidirectional gRPC stream of byte frames into a
// net.Conn, so that a second gRPC connection can run inside the first one,
// in the opposite direction. tether uses it for callbacks from a plugin to
// its host.
package tunnel

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/tetherplug/tether/internal/pb/tetherv1"
)

// Stream is what both ends of a Callbacks/Tunnel stream can do.
type Stream interface {
	Send(*tetherv1.TunnelFrame) error
	Recv() (*tetherv1.TunnelFrame, error)
}

// maxFrame bounds one frame's payload, well under gRPC's default 4 MiB
// message limit.
const maxFrame = 32 << 10

// Conn is a net.Conn over a Stream. Reads and writes may run concurrently
// with each other; Close unblocks both.
type Conn struct {
	stream  Stream
	closeFn func() // ends the stream (cancel its context, or return from the handler)
	local   net.Addr
	remote  net.Addr

	readMu  sync.Mutex
	pending []byte

	writeMu sync.Mutex

	closeOnce sync.Once
	done      chan struct{}
}

// NewConn wraps stream. closeFn is called once, by the first Close, and must
// make the stream's pending Send and Recv return.
func NewConn(stream Stream, closeFn func(), local, remote net.Addr) *Conn {
	return &Conn{stream: stream, closeFn: closeFn, local: local, remote: remote, done: make(chan struct{})}
}

// Read reads bytes of the inner connection.
func (c *Conn) Read(p []byte) (int, error) {
	c.readMu.Lock()
	defer c.readMu.Unlock()
	for len(c.pending) == 0 {
		f, err := c.stream.Recv()
		if err != nil {
			if c.isClosed() {
				return 0, net.ErrClosed
			}
			if errors.Is(err, io.EOF) {
				return 0, io.EOF
			}
			return 0, err
		}
		c.pending = f.GetData()
	}
	n := copy(p, c.pending)
	c.pending = c.pending[n:]
	return n, nil
}

// Write sends p as one or more frames.
func (c *Conn) Write(p []byte) (int, error) {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if c.isClosed() {
		return 0, net.ErrClosed
	}
	written := 0
	for len(p) > 0 {
		n := min(len(p), maxFrame)
		// The frame must own its bytes: gRPC may hold the message after
		// Send returns, and the caller may reuse p.
		data := make([]byte, n)
		copy(data, p[:n])
		if err := c.stream.Send(&tetherv1.TunnelFrame{Data: data}); err != nil {
			if c.isClosed() {
				return written, net.ErrClosed
			}
			return written, err
		}
		written += n
		p = p[n:]
	}
	return written, nil
}

// Close ends the stream. It is safe to call more than once.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		close(c.done)
		c.closeFn()
	})
	return nil
}

// Done is closed once Close has been called.
func (c *Conn) Done() <-chan struct{} { return c.done }

func (c *Conn) isClosed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// LocalAddr returns the address given to NewConn.
func (c *Conn) LocalAddr() net.Addr { return c.local }

// RemoteAddr returns the address given to NewConn.
func (c *Conn) RemoteAddr() net.Addr { return c.remote }

// SetDeadline is not supported: gRPC's own keepalive and deadlines bound
// the inner connection. It returns os.ErrNoDeadline for non-zero times.
func (c *Conn) SetDeadline(t time.Time) error { return noDeadline(t) }

// SetReadDeadline is not supported either; see SetDeadline.
func (c *Conn) SetReadDeadline(t time.Time) error { return noDeadline(t) }

// SetWriteDeadline is not supported either; see SetDeadline.
func (c *Conn) SetWriteDeadline(t time.Time) error { return noDeadline(t) }

func noDeadline(t time.Time) error {
	if t.IsZero() {
		return nil
	}
	return os.ErrNoDeadline
}

// Addr is the address of both ends of a tunnel.
type Addr struct{ Name string }

// Network is "tether-tunnel".
func (Addr) Network() string { return "tether-tunnel" }

// String returns the address's name.
func (a Addr) String() string { return a.Name }

// Listener is a net.Listener whose Accept returns the conns handed to Put,
// one at a time, so a grpc.Server can serve tunnels.
type Listener struct {
	conns     chan net.Conn
	closeOnce sync.Once
	done      chan struct{}
}

// NewListener returns an empty listener.
func NewListener() *Listener {
	return &Listener{conns: make(chan net.Conn), done: make(chan struct{})}
}

// Put hands c to the next Accept; it fails if the listener is closed.
func (l *Listener) Put(c net.Conn) error {
	select {
	case l.conns <- c:
		return nil
	case <-l.done:
		return net.ErrClosed
	}
}

// Accept waits for the next conn.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops Accept.
func (l *Listener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return nil
}

// Addr names the listener.
func (l *Listener) Addr() net.Addr { return Addr{Name: "tether-callbacks"} }
