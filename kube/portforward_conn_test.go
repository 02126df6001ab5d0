package kube

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	streamhttp "k8s.io/streaming/pkg/httpstream"
)

// pipeStream is one end of a stream of a fake port-forward connection, a
// loopback TCP connection (Close half-closes it, as a SPDY stream's does);
// the test holds the other end, as the node would.
type pipeStream struct {
	*net.TCPConn
	h http.Header
}

func (s *pipeStream) Close() error         { return s.CloseWrite() }
func (s *pipeStream) Reset() error         { return s.TCPConn.Close() }
func (s *pipeStream) Headers() http.Header { return s.h }
func (s *pipeStream) Identifier() uint32   { return 0 }

// pipeConn is a port-forward connection whose streams are net.Pipes; the
// node's ends, by stream type, are in node.
type pipeConn struct {
	lis     net.Listener
	mu      sync.Mutex
	streams []*pipeStream
	node    map[string]net.Conn
	closed  chan struct{}
	once    sync.Once
}

func newPipeConn(t *testing.T) *pipeConn {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lis.Close() })
	return &pipeConn{lis: lis, node: map[string]net.Conn{}, closed: make(chan struct{})}
}

func (c *pipeConn) CreateStream(h http.Header) (streamhttp.Stream, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	mine, err := net.Dial("tcp", c.lis.Addr().String())
	if err != nil {
		return nil, err
	}
	theirs, err := c.lis.Accept()
	if err != nil {
		return nil, err
	}
	s := &pipeStream{TCPConn: mine.(*net.TCPConn), h: h.Clone()}
	c.streams = append(c.streams, s)
	c.node[h.Get("streamType")] = theirs
	return s, nil
}

func (c *pipeConn) Close() error {
	c.once.Do(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, s := range c.streams {
			_ = s.Reset()
		}
		for _, n := range c.node {
			_ = n.Close()
		}
		close(c.closed)
	})
	return nil
}

func (c *pipeConn) CloseChan() <-chan bool             { return nil }
func (c *pipeConn) SetIdleTimeout(time.Duration)       {}
func (c *pipeConn) RemoveStreams(...streamhttp.Stream) {}

func (c *pipeConn) nodeEnd(kind string) net.Conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.node[kind]
}

// forwardedOver opens the stream pair of port 7000 on conn and returns the
// host's end.
func forwardedOver(t *testing.T, conn *pipeConn) net.Conn {
	t.Helper()
	f, err := openStreams(conn, 7000)
	if err != nil {
		t.Fatal(err)
	}
	f.log = slog.New(slog.DiscardHandler)
	for _, s := range conn.streams {
		if s.h.Get("port") != "7000" || s.h.Get("requestID") == "" {
			t.Errorf("stream %v: want port 7000 and a requestID", s.h)
		}
	}
	if conn.nodeEnd("error") == nil || conn.nodeEnd("data") == nil {
		t.Fatalf("streams %v: want an error and a data stream", conn.node)
	}
	return f.pipe("10.0.0.7:7000")
}

// within fails the test unless ch is closed within 5 s.
func within(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s within 5 s", what)
	}
}

// A forwarded connection carries bytes both ways; the host closing its end
// closes the whole port-forward connection, so nothing is left open.
func TestForwardedCloseEndsTheTunnel(t *testing.T) {
	conn := newPipeConn(t)
	host := forwardedOver(t, conn)
	if a := host.RemoteAddr(); a.Network() != PortForwardNetwork || a.String() != "10.0.0.7:7000" {
		t.Errorf("RemoteAddr = %s %s, want the pod's on %s", a.Network(), a, PortForwardNetwork)
	}
	pod := conn.nodeEnd("data")
	go func() { _, _ = io.Copy(pod, pod) }() // the pod echoes
	go func() { _, _ = io.Copy(io.Discard, conn.nodeEnd("error")) }()
	_ = host.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := host.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 4)
	if _, err := io.ReadFull(host, got); err != nil || string(got) != "ping" {
		t.Fatalf("echo through the tunnel: %q %v", got, err)
	}
	_ = host.Close()
	within(t, conn.closed, "the port-forward connection was not closed after the host closed its end")
}

// An error the node reports on the error stream (the pod's port refused)
// ends the host's end, so gRPC reconnects, and closes the tunnel.
func TestForwardedNodeErrorEndsTheConnection(t *testing.T) {
	conn := newPipeConn(t)
	host := forwardedOver(t, conn)
	go func() { _, _ = io.Copy(io.Discard, conn.nodeEnd("data")) }()
	errs := conn.nodeEnd("error")
	go func() {
		_, _ = errs.Write([]byte("dial tcp 10.0.0.7:7000: connect: connection refused"))
		_ = errs.Close()
	}()
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		_, _ = io.Copy(io.Discard, host)
	}()
	within(t, ended, "the host's end did not end after the node's error")
	within(t, conn.closed, "the port-forward connection was not closed after the node's error")
}
