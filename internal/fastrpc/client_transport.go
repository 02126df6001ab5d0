package fastrpc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
)

// prefaceTimeout bounds the wait for the server's preface when the call's
// context has no deadline.
const prefaceTimeout = 10 * time.Second

// clientTransport is one connection of a ClientConn with its streams and
// its reader goroutine.
type clientTransport struct {
	*wire
	opts clientOptions

	mu       sync.Mutex
	streams  map[uint32]*clientStream
	nextID   uint32
	err      error // set once the connection is broken
	draining bool  // the server sent goaway
	done     chan struct{}
	down     *atomic.Bool // its ClientConn's: set when it breaks or drains
	auth     credentials.AuthInfo
}

// newClientTransport exchanges prefaces, so that a peer that is not a
// fastrpc server is reported at once and by name, then starts the reader.
func newClientTransport(ctx context.Context, nc net.Conn, opts clientOptions, down *atomic.Bool) (*clientTransport, error) {
	t := &clientTransport{
		down:    down,
		wire:    newWire(nc, opts.maxRecv, clientReadBuffer),
		opts:    opts,
		streams: make(map[uint32]*clientStream),
		nextID:  1,
		done:    make(chan struct{}),
	}
	if err := t.sendPreface(); err != nil {
		return nil, err
	}
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Now().Add(prefaceTimeout)
	}
	_ = nc.SetReadDeadline(dl)
	if err := t.readPreface(); err != nil {
		return nil, err
	}
	_ = nc.SetReadDeadline(time.Time{})
	t.auth = authInfoOf(nc) // after the first read: a TLS handshake is done
	go t.readLoop()
	return t, nil
}

func (t *clientTransport) usable() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err == nil && !t.draining
}

// register gives s a stream id.
func (t *clientTransport) register(s *clientStream) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err != nil {
		return status.Errorf(codes.Unavailable, "fastrpc: connection lost: %v", t.err)
	}
	if t.nextID == 0 { // wrapped: this connection has used every id
		t.draining = true
		t.down.Store(true)
		return status.Error(codes.Unavailable, "fastrpc: connection out of stream ids")
	}
	s.id = t.nextID
	t.nextID++
	t.streams[s.id] = s
	return nil
}

func (t *clientTransport) unregister(id uint32) {
	t.mu.Lock()
	delete(t.streams, id)
	idle := t.draining && len(t.streams) == 0
	t.mu.Unlock()
	if idle {
		t.fail(errors.New("drained after goaway"))
	}
}

func (t *clientTransport) stream(id uint32) *clientStream {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.streams[id]
}

// fail breaks the connection: every stream in flight ends with Unavailable.
func (t *clientTransport) fail(err error) {
	t.mu.Lock()
	if t.err != nil {
		t.mu.Unlock()
		return
	}
	t.err = err
	t.down.Store(true)
	streams := t.streams
	t.streams = map[uint32]*clientStream{}
	t.mu.Unlock()
	_ = t.nc.Close()
	st := status.Newf(codes.Unavailable, "fastrpc: connection lost: %v", err)
	for _, s := range streams {
		s.finish(st, nil, false)
	}
}

func (t *clientTransport) readLoop() {
	defer close(t.done)
	var err error
	for err == nil {
		err = t.readOne()
	}
	t.fail(err)
}

// readOne reads and dispatches one frame.
func (t *clientTransport) readOne() error {
	h, err := t.fr.readHeader()
	if err != nil {
		return err
	}
	if h.typ == frameGoAway {
		t.mu.Lock()
		t.draining = true
		t.down.Store(true)
		idle := len(t.streams) == 0
		t.mu.Unlock()
		if idle {
			return errors.New("server sent goaway")
		}
		return t.fr.discard(h.length)
	}
	s := t.stream(h.stream)
	if h.typ == frameMessage && (s == nil || int64(h.length) > int64(s.maxRecv)) {
		if err := t.fr.discard(h.length); err != nil {
			return err
		}
		if s != nil {
			s.abortFromReader(status.Newf(codes.ResourceExhausted, "grpc: received message larger than max (%d vs. %d)", h.length, s.maxRecv))
		}
		return nil
	}
	b, err := t.fr.readPayload(h)
	if err != nil || s == nil {
		return err
	}
	switch h.typ {
	case frameMessage:
		return s.onMessage(b)
	case frameHeaders:
		md, err := decodeMD(b)
		if err != nil {
			return err
		}
		s.onHeaders(md)
	case frameTrailers:
		st, md, err := decodeTrailers(b)
		if err != nil {
			return err
		}
		s.finish(statusFromProto(st), md, false)
	case frameCredit:
		n, err := decodeCredit(b)
		if err != nil {
			return err
		}
		s.addCredit(n)
	default:
		return fmt.Errorf("%w: %v frame sent to a client", errProtocol, h.typ)
	}
	return nil
}

var okStatus = status.New(codes.OK, "")

func statusFromProto(st *spb.Status) *status.Status {
	if st == nil {
		return okStatus
	}
	return status.FromProto(st)
}
