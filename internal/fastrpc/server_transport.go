package fastrpc

import (
	"context"
	"fmt"
	"net"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// serverTransport is one accepted connection: its reader runs in serve and
// starts a goroutine per call.
type serverTransport struct {
	*wire
	srv    *Server
	ctx    context.Context // canceled when the connection ends
	cancel context.CancelCauseFunc
	peer   *peer.Peer

	mu      sync.Mutex
	streams map[uint32]*serverStream
}

func newServerTransport(srv *Server, nc net.Conn) *serverTransport {
	ctx, cancel := context.WithCancelCause(context.Background())
	return &serverTransport{
		wire:    newWire(nc, srv.opts.maxRecv, serverReadBuffer),
		srv:     srv,
		ctx:     ctx,
		cancel:  cancel,
		peer:    &peer.Peer{Addr: nc.RemoteAddr(), LocalAddr: nc.LocalAddr()},
		streams: map[uint32]*serverStream{},
	}
}

func (t *serverTransport) serve() {
	defer t.srv.removeConn(t)
	err := t.readPreface()
	if err == nil {
		t.peer.AuthInfo = authInfoOf(t.nc) // a TLS handshake is done by now
		err = t.sendPreface()
	}
	for err == nil {
		err = t.readOne()
	}
	t.close(err)
}

// close ends the connection; the calls still running see their context
// canceled.
func (t *serverTransport) close(err error) {
	t.cancel(err)
	_ = t.nc.Close()
	t.mu.Lock()
	streams := t.streams
	t.streams = map[uint32]*serverStream{}
	t.mu.Unlock()
	for _, s := range streams {
		s.onCancel()
	}
}

func (t *serverTransport) goAway() {
	bp := getBuf()
	*bp = appendFrame(*bp, frameGoAway, 0, nil)
	_ = t.write(*bp)
	putBuf(bp)
}

func (t *serverTransport) stream(id uint32) *serverStream {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.streams[id]
}

func (t *serverTransport) unregister(id uint32) {
	t.mu.Lock()
	delete(t.streams, id)
	t.mu.Unlock()
}

// readOne reads and dispatches one frame.
func (t *serverTransport) readOne() error {
	h, err := t.fr.readHeader()
	if err != nil {
		return err
	}
	var s *serverStream
	if h.typ != frameRequest {
		s = t.stream(h.stream)
	}
	if h.typ == frameMessage && (s == nil || int64(h.length) > int64(t.srv.opts.maxRecv)) {
		if err := t.fr.discard(h.length); err != nil {
			return err
		}
		if s != nil {
			s.endFromReader(status.Errorf(codes.ResourceExhausted, "grpc: received message larger than max (%d vs. %d)", h.length, t.srv.opts.maxRecv))
		}
		return nil
	}
	b, err := t.fr.readPayload(h)
	if err != nil {
		return err
	}
	switch h.typ {
	case frameRequest:
		return t.open(h.stream, b)
	case frameMessage:
		if s != nil && !s.onMessage(b) {
			return fmt.Errorf("%w: client sent beyond its credit on stream %d", errProtocol, h.stream)
		}
	case frameHalfClose:
		if s != nil {
			s.onHalfClose()
		}
	case frameCancel:
		if s != nil {
			s.onCancel()
		}
	case frameCredit:
		n, err := decodeCredit(b)
		if err != nil {
			return err
		}
		if s != nil {
			s.addCredit(n)
		}
	default:
		return fmt.Errorf("%w: %v frame sent to a server", errProtocol, h.typ)
	}
	return nil
}

// open starts a call: its handler runs in a goroutine of its own.
func (t *serverTransport) open(id uint32, b []byte) error {
	req, err := decodeRequest(b)
	if err != nil {
		return err
	}
	svc, md, sd, why := t.srv.lookup(req.method)
	if svc == nil {
		t.refuse(id, status.New(codes.Unimplemented, why))
		return nil
	}
	s := newServerStream(t, id, req, streamDesc(sd), len(b))
	t.mu.Lock()
	_, dup := t.streams[id]
	full := len(t.streams) >= t.srv.opts.maxStreams
	if !full && !dup {
		t.streams[id] = s
	}
	t.mu.Unlock()
	if dup {
		s.cancel()
		err := fmt.Errorf("%w: request on stream %d, which is open", errProtocol, id)
		s.stats.end(status.Error(codes.Internal, err.Error()), nil)
		return err
	}
	if full {
		s.cancel()
		st := status.Newf(codes.ResourceExhausted, "fastrpc: more than %d calls in flight on one connection", t.srv.opts.maxStreams)
		s.stats.end(st.Err(), nil)
		t.refuse(id, st)
		return nil
	}
	t.srv.mu.Lock()
	stopping := t.srv.stopping
	if !stopping {
		t.srv.handlers.Add(1)
	}
	t.srv.mu.Unlock()
	if stopping {
		s.endFromReader(status.Error(codes.Unavailable, "fastrpc: the server is stopping"))
		return nil
	}
	t.srv.workers.run(func() {
		defer t.srv.handlers.Done()
		s.run(svc, md, sd)
	})
	return nil
}

// refuse ends a call that gets no stream: trailers only, written from a
// goroutine because the reader must not block on a write.
func (t *serverTransport) refuse(id uint32, st *status.Status) {
	b := appendTrailersFrame(nil, id, st, nil)
	go func() { _ = t.write(b) }()
}

func appendTrailersFrame(b []byte, id uint32, st *status.Status, md metadata.MD) []byte {
	return appendFrame(b, frameTrailers, id, func(b []byte) []byte {
		out, err := appendTrailers(b, st.Proto(), md)
		if err != nil { // details that do not marshal: send the code and message
			out, _ = appendTrailers(b, status.New(st.Code(), st.Message()).Proto(), md)
		}
		return out
	})
}

// handlerContext builds the context a handler sees.
func (t *serverTransport) handlerContext(s *serverStream, req request) (context.Context, context.CancelFunc) {
	ctx := t.ctx
	var cancel context.CancelFunc
	if req.timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, req.timeout)
	} else {
		ctx, cancel = context.WithCancel(ctx)
	}
	if len(req.md) > 0 {
		ctx = metadata.NewIncomingContext(ctx, req.md)
	}
	ctx = peer.NewContext(ctx, t.peer)
	ctx = grpc.NewContextWithServerTransportStream(ctx, transportStream{s})
	return ctx, cancel
}

// unaryStreamDesc describes a unary call to a stats handler's Begin.
var unaryStreamDesc = &grpc.StreamDesc{}

// streamDesc is sd, or unaryStreamDesc for a unary method.
func streamDesc(sd *grpc.StreamDesc) *grpc.StreamDesc {
	if sd == nil {
		return unaryStreamDesc
	}
	return sd
}
