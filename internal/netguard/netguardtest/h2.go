// Package netguardtest has the hostile peers that netguard's tests, the
// network plugin's and tether serve's use: a raw HTTP/2 client that ignores
// what the server advertises, silent TCP connections, and a program that
// runs another under a low descriptor limit.
package netguardtest

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// H2 is a raw HTTP/2 client connection to a gRPC server. It opens streams
// as a hostile peer would, whatever the server's SETTINGS say, answers the
// server's SETTINGS and PINGs, and records how the server answers.
type H2 struct {
	conn      net.Conn
	authority string

	wmu  sync.Mutex // writes: the framer, the encoder and next
	fr   *http2.Framer
	hbuf bytes.Buffer
	enc  *hpack.Encoder
	next uint32

	mu       sync.Mutex
	settings map[http2.SettingID]uint32
	resets   map[http2.ErrCode]int
	changed  chan struct{} // signalled on each reset, SETTINGS and PING ACK
	pongs    int
	closed   chan struct{} // closed when the server closed or sent GOAWAY
	closeErr error
}

// Dial connects to addr over TLS with conf (a client certificate the
// server trusts, for a peer that got through mutual TLS), or in plaintext
// when conf is nil, and sends the HTTP/2 preface; it fails the test if it
// cannot. The connection is closed when the test ends.
func Dial(t testing.TB, addr string, conf *tls.Config) *H2 {
	t.Helper()
	h, err := Connect(addr, conf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}

// Connect is Dial returning its error; the caller closes the connection.
func Connect(addr string, conf *tls.Config) (*H2, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	var c net.Conn
	var err error
	if conf != nil {
		conf = conf.Clone()
		conf.NextProtos = []string{"h2"}
		c, err = tls.DialWithDialer(d, "tcp", addr, conf)
	} else {
		c, err = d.Dial("tcp", addr)
	}
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	h := &H2{conn: c, authority: addr, fr: http2.NewFramer(c, c), next: 1,
		settings: map[http2.SettingID]uint32{}, resets: map[http2.ErrCode]int{},
		changed: make(chan struct{}, 1), closed: make(chan struct{})}
	h.enc = hpack.NewEncoder(&h.hbuf)
	if err := h.write(func() error {
		if _, err := c.Write([]byte(http2.ClientPreface)); err != nil {
			return err
		}
		return h.fr.WriteSettings()
	}); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("HTTP/2 preface to %s: %w", addr, err)
	}
	go h.read()
	return h, nil
}

// Close closes the connection.
func (h *H2) Close() error { return h.conn.Close() }

// write runs f holding the write lock, with a 10 s write deadline.
func (h *H2) write(f func() error) error {
	h.wmu.Lock()
	defer h.wmu.Unlock()
	_ = h.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return f()
}

// read records the server's frames until the connection ends.
func (h *H2) read() {
	for {
		f, err := h.fr.ReadFrame()
		if err != nil {
			h.end(err)
			return
		}
		h.mu.Lock()
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				_ = f.ForeachSetting(func(s http2.Setting) error { h.settings[s.ID] = s.Val; return nil })
				go func() { _ = h.write(h.fr.WriteSettingsAck) }()
			}
		case *http2.PingFrame:
			if f.IsAck() {
				h.pongs++
			} else {
				data := f.Data
				go func() { _ = h.write(func() error { return h.fr.WritePing(true, data) }) }()
			}
		case *http2.RSTStreamFrame:
			h.resets[f.ErrCode]++
		case *http2.GoAwayFrame:
			h.mu.Unlock()
			h.end(errors.New("GOAWAY " + f.ErrCode.String()))
			return
		}
		h.mu.Unlock()
		h.signal()
	}
}

func (h *H2) signal() {
	select {
	case h.changed <- struct{}{}:
	default:
	}
}

func (h *H2) end(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	select {
	case <-h.closed:
	default:
		h.closeErr = err
		close(h.closed)
	}
}

// Closed is closed once the server closed the connection or sent GOAWAY.
func (h *H2) Closed() <-chan struct{} { return h.closed }

// Open opens n streams calling path, each with the headers of a gRPC call
// plus extra, and sends no DATA: each call waits for a request that never
// comes. It stops at the first write that fails (the server closed).
func (h *H2) Open(n int, path string, extra ...hpack.HeaderField) (opened int, err error) {
	base := []hpack.HeaderField{{Name: ":method", Value: "POST"}, {Name: ":scheme", Value: "https"},
		{Name: ":path", Value: path}, {Name: ":authority", Value: h.authority},
		{Name: "content-type", Value: "application/grpc"}, {Name: "te", Value: "trailers"}}
	for ; opened < n; opened++ {
		err = h.write(func() error {
			h.hbuf.Reset()
			for _, f := range append(base, extra...) {
				if err := h.enc.WriteField(f); err != nil {
					return err
				}
			}
			id := h.next
			h.next += 2
			return h.writeBlock(id, h.hbuf.Bytes())
		})
		if err != nil {
			return opened, err
		}
	}
	return opened, nil
}

// writeBlock writes a header block as HEADERS and CONTINUATION frames of
// at most 16 KiB.
func (h *H2) writeBlock(id uint32, block []byte) error {
	const max = 16 << 10
	first := block[:min(len(block), max)]
	block = block[len(first):]
	if err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: first, EndHeaders: len(block) == 0}); err != nil {
		return err
	}
	for len(block) > 0 {
		frag := block[:min(len(block), max)]
		block = block[len(frag):]
		if err := h.fr.WriteContinuation(id, len(block) == 0, frag); err != nil {
			return err
		}
	}
	return nil
}

// Sync sends a PING and waits up to timeout for its ACK: the server has
// then read every frame sent before it. It reports false on a timeout or
// when the connection ended.
func (h *H2) Sync(timeout time.Duration) bool {
	h.mu.Lock()
	want := h.pongs + 1
	h.mu.Unlock()
	if h.write(func() error { return h.fr.WritePing(false, [8]byte{'n', 'e', 't', 'g', 'u', 'a', 'r', 'd'}) }) != nil {
		return false
	}
	return h.wait(timeout, func() bool { return h.pongs >= want })
}

// WaitResets waits up to timeout until the server reset n streams with
// code, and reports whether it did.
func (h *H2) WaitResets(code http2.ErrCode, n int, timeout time.Duration) bool {
	return h.wait(timeout, func() bool { return h.resets[code] >= n })
}

// Resets is how many streams the server reset, by code.
func (h *H2) Resets() map[http2.ErrCode]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := map[http2.ErrCode]int{}
	for k, v := range h.resets {
		m[k] = v
	}
	return m
}

// Setting waits up to timeout for the server's SETTINGS and returns the
// value of id, if the server set it.
func (h *H2) Setting(id http2.SettingID, timeout time.Duration) (uint32, bool) {
	var v uint32
	var ok bool
	h.wait(timeout, func() bool { v, ok = h.settings[id]; return ok })
	return v, ok
}

// wait waits up to timeout for cond, which runs holding h.mu; the
// connection's end ends the wait too.
func (h *H2) wait(timeout time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		h.mu.Lock()
		ok := cond()
		h.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-h.changed:
		case <-h.closed:
			h.mu.Lock()
			defer h.mu.Unlock()
			return cond()
		case <-deadline.C:
			return false
		}
	}
}

// CloseErr is why the connection ended, once Closed is closed.
func (h *H2) CloseErr() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closeErr
}

// Silent opens n TCP connections to addr that send nothing, not even a TLS
// ClientHello, and closes them when the test ends.
func Silent(t testing.TB, addr string, n int) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, 0, n)
	t.Cleanup(func() {
		for _, c := range conns {
			_ = c.Close()
		}
	})
	d := &net.Dialer{Timeout: 5 * time.Second}
	for range n {
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("silent connection %d of %d to %s: %v", len(conns)+1, n, addr, err)
		}
		conns = append(conns, c)
	}
	return conns
}

// WaitClosed waits up to timeout for the server to close c (a read ends
// with EOF or a reset) and returns how long it took, or fails the test.
func WaitClosed(t testing.TB, c net.Conn, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(timeout))
	buf := make([]byte, 1024)
	for {
		_, err := c.Read(buf)
		var ne net.Error
		switch {
		case err == nil:
			continue
		case errors.As(err, &ne) && ne.Timeout():
			t.Fatalf("the server kept a silent connection open for %v", timeout)
		}
		return time.Since(start)
	}
}
