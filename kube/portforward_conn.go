package kube

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"

	corev1 "k8s.io/api/core/v1"
	streamhttp "k8s.io/streaming/pkg/httpstream"
)

// forwarded is one connection to a pod's port through the API server: a
// port-forward connection of its own carrying one pair of streams, data
// and error, as the kubelet's port-forward protocol (portforward.k8s.io)
// has them.
type forwarded struct {
	conn       streamhttp.Connection
	data, errs streamhttp.Stream
	log        *slog.Logger
	once       sync.Once
}

// openStreams creates the error stream, then the data stream, of port on
// conn (the kubelet connects the pair to the pod's port once both exist).
func openStreams(conn streamhttp.Connection, port int32) (*forwarded, error) {
	h := http.Header{}
	h.Set(corev1.StreamType, corev1.StreamTypeError)
	h.Set(corev1.PortHeader, strconv.Itoa(int(port)))
	h.Set(corev1.PortForwardRequestIDHeader, "0")
	errs, err := conn.CreateStream(h)
	if err != nil {
		return nil, fmt.Errorf("creating the error stream: %w", err)
	}
	_ = errs.Close() // the client writes nothing on it
	h.Set(corev1.StreamType, corev1.StreamTypeData)
	data, err := conn.CreateStream(h)
	if err != nil {
		return nil, fmt.Errorf("creating the data stream: %w", err)
	}
	return &forwarded{conn: conn, data: data, errs: errs}, nil
}

// pipe is the host's end of the forwarded connection to addr, the pod's
// "ip:port". A net.Pipe, rather than the stream itself, gives gRPC and TLS
// a net.Conn with deadlines; two goroutines copy between its other end and
// the data stream. When either side ends, or the node reports an error,
// the whole port-forward connection is closed, which ends the other side.
func (f *forwarded) pipe(addr string) net.Conn {
	local, remote := net.Pipe()
	go func() { // pod to host
		_, _ = io.Copy(remote, f.data)
		_ = remote.Close()
		f.close()
	}()
	go func() { // host to pod
		_, _ = io.Copy(f.data, remote)
		f.close()
	}()
	go func() {
		msg, _ := io.ReadAll(f.errs)
		if len(msg) > 0 {
			f.log.Warn("the node ended a forwarded connection to the plugin's pod", "error", string(msg))
			_ = remote.Close()
			f.close()
		}
	}()
	return &podConn{Conn: local, pod: podAddr(addr)}
}

// podConn is the host's end of a forwarded connection, whose RemoteAddr
// (a gRPC call's peer address) is the pod's, on network "portforward".
type podConn struct {
	net.Conn
	pod podAddr
}

// RemoteAddr is the pod's IP and port, on network "portforward".
func (c *podConn) RemoteAddr() net.Addr { return c.pod }

// podAddr is a pod's "ip:port" reached through the API server.
type podAddr string

// Network is PortForwardNetwork.
func (podAddr) Network() string { return PortForwardNetwork }

// String is the pod's "ip:port".
func (a podAddr) String() string { return string(a) }

// close closes the port-forward connection, resetting its streams.
func (f *forwarded) close() {
	f.once.Do(func() { _ = f.conn.Close() })
}
