package bench

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tetherplug/tether/internal/pb/echov1"
)

// RawSockPkg is the import path of the floor's server program.
const RawSockPkg = "github.com/tetherplug/tether/test/plugins/rawsock"

// ErrFloorUnaryOnly is returned by the floor side for everything but Unary
// calls: it measures the least a small call to another process can cost,
// nothing more.
var ErrFloorUnaryOnly = errors.New("bench: the floor side has Unary calls only")

// Floor runs the rawsock program (a length-prefixed echo over a Unix socket,
// in its own process) and calls it with one write and one read per call: the
// floor under any transport between two processes on one machine. Its
// client gives each concurrent caller a connection of its own (a
// connection carries one call at a time), as many as there are callers.
type Floor struct{ Path string }

// Name returns "floor".
func (Floor) Name() string { return "floor" }

// StartRelay is not supported: it returns ErrFloorUnaryOnly.
func (Floor) StartRelay(context.Context, echov1.EchoServer) (*Instance, error) {
	return nil, ErrFloorUnaryOnly
}

// Start runs the server in a fresh directory and waits for its "ready".
func (f Floor) Start(ctx context.Context) (*Instance, error) {
	dir, err := os.MkdirTemp("", "tether-bench-")
	if err != nil {
		return nil, err
	}
	sock := filepath.Join(dir, "floor.sock")
	p, err := startServer(ctx, exec.Command(f.Path, sock), false, func(line string) string {
		if line == "ready" {
			return sock
		}
		return ""
	})
	if err != nil {
		return nil, errors.Join(err, os.RemoveAll(dir))
	}
	c := &floorClient{sock: sock, idle: make(chan *floorConn, 4*Callers)}
	return &Instance{Echo: c, Pid: p.cmd.Process.Pid,
		stop: func() error { return errors.Join(c.close(), p.stop(), os.RemoveAll(dir)) }}, nil
}

// floorClient is an echov1.EchoClient whose Unary calls are a raw
// ping-pong on a pooled connection.
type floorClient struct {
	sock string
	idle chan *floorConn

	mu     sync.Mutex
	conns  []net.Conn // every connection dialled, for close
	closed bool
}

// floorConn is one connection and its buffers.
type floorConn struct {
	nc  net.Conn
	r   *bufio.Reader
	buf []byte
}

func (c *floorClient) dial() (*floorConn, error) {
	nc, err := net.Dial("unix", c.sock)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		nc.Close()
		return nil, net.ErrClosed
	}
	c.conns = append(c.conns, nc)
	return &floorConn{nc: nc, r: bufio.NewReader(nc)}, nil
}

func (c *floorClient) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	var errs []error
	for _, nc := range c.conns {
		errs = append(errs, nc.Close())
	}
	return errors.Join(errs...)
}

// Unary writes the payload with its length in one write and reads the echo
// back. The call's deadline, if any, bounds both.
func (c *floorClient) Unary(ctx context.Context, m *echov1.Message, _ ...grpc.CallOption) (*echov1.Message, error) {
	var fc *floorConn
	select {
	case fc = <-c.idle:
	default:
		var err error
		if fc, err = c.dial(); err != nil {
			return nil, err
		}
	}
	payload, err := fc.call(ctx, m.GetPayload())
	if err != nil {
		fc.nc.Close() // its state is unknown: not reused
		return nil, err
	}
	select {
	case c.idle <- fc:
	default:
		fc.nc.Close()
	}
	return &echov1.Message{Payload: payload}, nil
}

func (fc *floorConn) call(ctx context.Context, payload []byte) ([]byte, error) {
	if dl, ok := ctx.Deadline(); ok {
		if err := fc.nc.SetDeadline(dl); err != nil {
			return nil, err
		}
		defer fc.nc.SetDeadline(time.Time{})
	}
	fc.buf = binary.BigEndian.AppendUint32(fc.buf[:0], uint32(len(payload)))
	fc.buf = append(fc.buf, payload...)
	if _, err := fc.nc.Write(fc.buf); err != nil {
		return nil, err
	}
	if _, err := io.ReadFull(fc.r, fc.buf[:4]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(fc.buf[:4])
	if int(n) != len(payload) {
		return nil, status.Errorf(codes.Internal, "floor: echoed %d bytes, sent %d", n, len(payload))
	}
	out := make([]byte, n)
	_, err := io.ReadFull(fc.r, out)
	return out, err
}

// ServerStream is not supported: it returns ErrFloorUnaryOnly.
func (*floorClient) ServerStream(context.Context, *echov1.Message, ...grpc.CallOption) (grpc.ServerStreamingClient[echov1.Message], error) {
	return nil, ErrFloorUnaryOnly
}

// ClientStream is not supported: it returns ErrFloorUnaryOnly.
func (*floorClient) ClientStream(context.Context, ...grpc.CallOption) (grpc.ClientStreamingClient[echov1.Message, echov1.Message], error) {
	return nil, ErrFloorUnaryOnly
}

// Bidi is not supported: it returns ErrFloorUnaryOnly.
func (*floorClient) Bidi(context.Context, ...grpc.CallOption) (grpc.BidiStreamingClient[echov1.Message, echov1.Message], error) {
	return nil, ErrFloorUnaryOnly
}
