package fastrpc

import (
	"context"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// clientStream is one call on the client side; it implements
// grpc.ClientStream. The connection's reader fills it; callers wait on cond.
type clientStream struct {
	t       *clientTransport
	id      uint32
	ctx     context.Context
	desc    *grpc.StreamDesc
	method  string
	maxRecv int
	maxSend int
	stop    func() bool // stops the context watch
	hdrOpt  []*metadata.MD
	trlOpt  []*metadata.MD
	peerOpt []*peer.Peer
	stats   *rpcStats // nil without a stats handler

	mu         sync.Mutex
	cond       sync.Cond
	in         inbox
	header     metadata.MD
	gotHeader  bool
	trailer    metadata.MD
	st         *status.Status // set when the stream ended
	local      bool           // ended here (context, size limit), not by trailers
	sendCredit int
	sentClose  bool
	gotReply   bool // the one reply of a call whose server does not stream was received
}

func newClientStream(ctx context.Context, t *clientTransport, desc *grpc.StreamDesc, method string, o clientOptions) *clientStream {
	s := &clientStream{t: t, ctx: ctx, desc: desc, method: method, maxRecv: o.maxRecv, maxSend: o.maxSend, sendCredit: initialWindow}
	s.cond.L = &s.mu
	return s
}

func (s *clientStream) applyOption(o grpc.CallOption) {
	switch o := o.(type) {
	case grpc.HeaderCallOption:
		s.hdrOpt = append(s.hdrOpt, o.HeaderAddr)
	case grpc.TrailerCallOption:
		s.trlOpt = append(s.trlOpt, o.TrailerAddr)
	case grpc.PeerCallOption:
		s.peerOpt = append(s.peerOpt, o.PeerAddr)
	case grpc.MaxRecvMsgSizeCallOption:
		s.maxRecv = o.MaxRecvMsgSize
	case grpc.MaxSendMsgSizeCallOption:
		s.maxSend = o.MaxSendMsgSize
	}
}

// watch ends the stream when its context ends, without a goroutine until
// then.
func (s *clientStream) watch() {
	if s.ctx.Done() == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stop = context.AfterFunc(s.ctx, func() {
		s.abort(status.FromContextError(s.ctx.Err()))
	})
}

// start sends the request frame, with the first message and the half-close
// when given, in one write.
func (s *clientStream) start(first any, closeSend bool) error {
	bp := getBuf()
	defer putBuf(bp)
	r := request{method: s.method}
	if dl, ok := s.ctx.Deadline(); ok {
		r.timeout = max(time.Until(dl), 1)
	}
	r.md, _ = metadata.FromOutgoingContext(s.ctx)
	s.stats.outHeader(s.method, r.md, s.t.nc.LocalAddr(), s.t.nc.RemoteAddr())
	b := appendFrame(*bp, frameRequest, s.id, func(b []byte) []byte { return appendRequest(b, r) })
	n := 0
	if first != nil {
		var err error
		if b, n, err = appendMessage(b, s.id, first); err != nil {
			return status.Error(codes.Internal, err.Error())
		}
		if n > s.maxSend {
			return status.Errorf(codes.ResourceExhausted, "grpc: trying to send message larger than max (%d vs. %d)", n, s.maxSend)
		}
		s.stats.outPayload(first, n)
		n += msgOverhead
	}
	if closeSend {
		b = appendFrame(b, frameHalfClose, s.id, nil)
	}
	*bp = b
	s.mu.Lock()
	ended := s.st
	s.sendCredit -= n
	s.sentClose = closeSend
	s.mu.Unlock()
	if ended != nil { // the context ended already: the server need not hear of it
		return ended.Err()
	}
	return s.t.write(b)
}

// sendFailed ends a stream whose request could not be sent.
func (s *clientStream) sendFailed(err error) error {
	if _, ok := status.FromError(err); !ok {
		err = status.Errorf(codes.Unavailable, "fastrpc: write: %v", err)
	}
	s.abort(status.Convert(err))
	return err
}

// abort ends the stream from this side and tells the server.
func (s *clientStream) abort(st *status.Status) {
	if s.finish(st, nil, true) {
		s.sendCancel()
	}
}

// abortFromReader is abort for the connection's reader, which must not
// block on a write: if both readers did, each waiting for the other to
// read, the connection would deadlock. The stream ends at once; the cancel
// frame follows from a goroutine.
func (s *clientStream) abortFromReader(st *status.Status) {
	if s.finish(st, nil, true) {
		go s.sendCancel()
	}
}

func (s *clientStream) sendCancel() {
	bp := getBuf()
	*bp = appendFrame(*bp, frameCancel, s.id, nil)
	_ = s.t.write(*bp)
	putBuf(bp)
}

// finish records the end of the stream once; it reports whether this call
// ended it.
func (s *clientStream) finish(st *status.Status, trailer metadata.MD, local bool) bool {
	// The stats handler hears of the end before the caller wakes, as with
	// grpc-go: a span has ended when the call returns.
	if s.stats != nil && !s.stats.finish(st.Err(), trailer, local) {
		return false
	}
	s.mu.Lock()
	if s.st != nil {
		s.mu.Unlock()
		return false
	}
	s.st, s.trailer, s.local = st, trailer, local
	if local {
		s.in.msgs = nil
	}
	// The call options are filled before the caller wakes.
	for _, p := range s.hdrOpt {
		*p = s.header
	}
	for _, p := range s.trlOpt {
		*p = trailer
	}
	for _, p := range s.peerOpt {
		p.Addr, p.LocalAddr, p.AuthInfo = s.t.nc.RemoteAddr(), s.t.nc.LocalAddr(), s.t.auth
	}
	stop := s.stop
	s.cond.Broadcast()
	s.mu.Unlock()
	if stop != nil {
		stop()
	}
	s.t.unregister(s.id)
	return true
}

func (s *clientStream) onHeaders(md metadata.MD) {
	s.mu.Lock()
	first := !s.gotHeader
	if first {
		s.header, s.gotHeader = md, true
		s.cond.Broadcast()
	}
	s.mu.Unlock()
	if first {
		s.stats.inHeader(s.method, md, 0, nil, nil)
	}
}

func (s *clientStream) onMessage(b []byte) error {
	s.mu.Lock()
	if s.st != nil {
		s.mu.Unlock()
		return nil
	}
	if !s.in.push(b) {
		s.mu.Unlock()
		return fmt.Errorf("%w: server sent beyond its credit on stream %d", errProtocol, s.id)
	}
	s.gotHeader = true
	s.cond.Broadcast()
	s.mu.Unlock()
	s.stats.inPayload(nil, len(b))
	return nil
}

func (s *clientStream) addCredit(n uint32) {
	s.mu.Lock()
	s.sendCredit += int(n)
	s.cond.Broadcast()
	s.mu.Unlock()
}
