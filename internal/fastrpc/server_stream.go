package fastrpc

import (
	"context"
	"errors"
	"io"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// serverStream is one call on the server side; it implements
// grpc.ServerStream.
type serverStream struct {
	t      *serverTransport
	id     uint32
	method string
	ctx    context.Context
	cancel context.CancelFunc
	stop   func() bool // stops the deadline watch
	stats  *rpcStats   // nil without a stats handler

	mu         sync.Mutex
	cond       sync.Cond
	in         inbox
	halfClosed bool
	sendCredit int
	header     metadata.MD
	headerSent bool
	trailer    metadata.MD
	done       bool // trailers sent, or the client canceled
}

func newServerStream(t *serverTransport, id uint32, req request, desc *grpc.StreamDesc, wireLen int) *serverStream {
	s := &serverStream{t: t, id: id, method: req.method, sendCredit: initialWindow}
	s.cond.L = &s.mu
	s.ctx, s.cancel = t.handlerContext(s, req)
	if h := t.srv.opts.stats; h != nil {
		// grpc-go's order: TagRPC, InHeader, Begin.
		s.ctx, s.stats = tagRPC(s.ctx, h, false, req.method)
		s.stats.inHeader(req.method, req.md, wireLen, t.peer.LocalAddr, t.peer.Addr)
		s.stats.beginEvent(desc)
	}
	s.stop = func() bool { return false }
	if req.timeout > 0 {
		// Past its deadline the client gets DeadlineExceeded whatever the
		// handler does.
		s.stop = context.AfterFunc(s.ctx, func() {
			if errors.Is(s.ctx.Err(), context.DeadlineExceeded) {
				s.end(status.Error(codes.DeadlineExceeded, "fastrpc: the call's deadline passed on the server"), nil)
			}
		})
	}
	return s
}

// run calls the handler and sends its status.
func (s *serverStream) run(svc *service, md *grpc.MethodDesc, sd *grpc.StreamDesc) {
	if md != nil {
		reply, err := md.Handler(svc.impl, s.ctx, s.RecvMsg, s.t.srv.unary)
		s.end(err, reply)
		return
	}
	var err error
	if ic := s.t.srv.stream; ic != nil {
		info := &grpc.StreamServerInfo{FullMethod: s.method, IsClientStream: sd.ClientStreams, IsServerStream: sd.ServerStreams}
		err = ic(svc.impl, s, info, sd.Handler)
	} else {
		err = sd.Handler(svc.impl, s)
	}
	s.end(err, nil)
}

// end sends the reply (unary calls), the headers if still unsent and the
// trailers, in one write; later calls do nothing.
func (s *serverStream) end(err error, reply any) {
	bp := getBuf()
	defer putBuf(bp)
	if b, ok := s.endFrames((*bp)[:0], err, reply); ok {
		*bp = b
		_ = s.t.write(b)
		s.release()
		s.endStats(err)
	}
}

// endStats reports the call's end to the stats handler, if any.
func (s *serverStream) endStats(err error) {
	if s.stats == nil {
		return
	}
	s.mu.Lock()
	trailer := s.trailer
	s.mu.Unlock()
	s.stats.end(err, trailer)
}

// endFromReader is end for the connection's reader, which must not block on
// a write (see clientStream.abortFromReader): the call ends at once, its
// frames follow from a goroutine.
func (s *serverStream) endFromReader(err error) {
	if b, ok := s.endFrames(nil, err, nil); ok {
		go func() {
			_ = s.t.write(b)
			s.release()
			s.endStats(err)
		}()
	}
}

// release drops the stream and ends its context.
func (s *serverStream) release() {
	s.t.unregister(s.id)
	s.stop()
	s.cancel()
}

// endFrames marks the call ended and appends its last frames to b; false if
// it had ended already.
func (s *serverStream) endFrames(b []byte, err error, reply any) ([]byte, bool) {
	st := status.Convert(err)
	var n int
	if err == nil && reply != nil {
		var merr error
		b, n, merr = appendMessage(b, s.id, reply)
		switch {
		case merr != nil:
			st = status.New(codes.Internal, merr.Error())
		case n > s.t.srv.opts.maxSend:
			st = status.Newf(codes.ResourceExhausted, "grpc: trying to send message larger than max (%d vs. %d)", n, s.t.srv.opts.maxSend)
		}
		if st.Code() != codes.OK {
			b = b[:0]
		}
	}
	sent := err == nil && reply != nil && st.Code() == codes.OK
	s.mu.Lock()
	if s.done {
		s.mu.Unlock()
		return b, false
	}
	s.done = true
	s.cond.Broadcast()
	header := !s.headerSent && len(s.header) > 0
	if header {
		b = append(appendHeadersFrame(nil, s.id, s.header), b...)
	}
	s.headerSent = true
	trailer := s.trailer
	s.mu.Unlock()
	if s.stats != nil {
		s.endFrameStats(header, sent, reply, n, trailer)
	}
	return appendTrailersFrame(b, s.id, st, trailer), true
}

// endFrameStats reports the last frames of a call to its stats handler.
func (s *serverStream) endFrameStats(header, sent bool, reply any, n int, trailer metadata.MD) {
	if header {
		s.stats.outHeader(s.method, s.header, nil, nil)
	}
	if sent {
		s.stats.outPayload(reply, n)
	}
	s.stats.outTrailer(trailer)
}

func appendHeadersFrame(b []byte, id uint32, md metadata.MD) []byte {
	return appendFrame(b, frameHeaders, id, func(b []byte) []byte { return appendMD(b, md) })
}

func (s *serverStream) onMessage(b []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return true
	}
	ok := s.in.push(b)
	s.cond.Broadcast()
	return ok
}

func (s *serverStream) onHalfClose() {
	s.mu.Lock()
	s.halfClosed = true
	s.cond.Broadcast()
	s.mu.Unlock()
}

// onCancel: the client gave up; the handler sees its context canceled and
// no trailers are sent.
func (s *serverStream) onCancel() {
	s.mu.Lock()
	s.done = true
	s.cond.Broadcast()
	s.mu.Unlock()
	s.t.unregister(s.id)
	s.stop()
	s.cancel()
	s.endStats(status.Error(codes.Canceled, "fastrpc: the client canceled the call"))
}

func (s *serverStream) addCredit(n uint32) {
	s.mu.Lock()
	s.sendCredit += int(n)
	s.cond.Broadcast()
	s.mu.Unlock()
}

// ctxErr is the error a handler gets once its call has ended early.
func (s *serverStream) ctxErr() error {
	if err := s.ctx.Err(); err != nil {
		return status.FromContextError(err).Err()
	}
	return status.Error(codes.Canceled, "fastrpc: the call has ended")
}

// RecvMsg receives the next message; io.EOF once the client half-closed.
func (s *serverStream) RecvMsg(m any) error {
	s.mu.Lock()
	for len(s.in.msgs) == 0 && !s.halfClosed && !s.done && s.ctx.Err() == nil {
		s.cond.Wait()
	}
	if len(s.in.msgs) == 0 {
		half := s.halfClosed && !s.done && s.ctx.Err() == nil
		s.mu.Unlock()
		if half {
			return io.EOF
		}
		return s.ctxErr()
	}
	b, grant := s.in.pop()
	s.mu.Unlock()
	if grant > 0 {
		bp := getBuf()
		*bp = appendCredit(*bp, s.id, grant)
		_ = s.t.write(*bp)
		putBuf(bp)
	}
	n := len(b)
	if err := unmarshalMessage(b, m); err != nil {
		return err
	}
	s.stats.inPayload(m, n)
	return nil
}
