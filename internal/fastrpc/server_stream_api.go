package fastrpc

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Context returns the call's context: incoming metadata, deadline, peer, and
// the stream grpc.SetHeader and friends use.
func (s *serverStream) Context() context.Context { return s.ctx }

var errHeaderSent = errors.New("fastrpc: headers already sent")

// SetHeader adds header metadata, sent with the first message or SendHeader.
func (s *serverStream) SetHeader(md metadata.MD) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.headerSent || s.done {
		return status.Error(codes.Internal, errHeaderSent.Error())
	}
	s.header = metadata.Join(s.header, md)
	return nil
}

// SendHeader sends the header metadata now, with md added.
func (s *serverStream) SendHeader(md metadata.MD) error {
	s.mu.Lock()
	if s.headerSent || s.done {
		s.mu.Unlock()
		return status.Error(codes.Internal, errHeaderSent.Error())
	}
	s.headerSent = true
	h := metadata.Join(s.header, md)
	s.mu.Unlock()
	bp := getBuf()
	defer putBuf(bp)
	*bp = appendHeadersFrame(*bp, s.id, h)
	s.stats.outHeader(s.method, h, nil, nil)
	return s.t.write(*bp)
}

// SetTrailer adds trailer metadata, sent with the status.
func (s *serverStream) SetTrailer(md metadata.MD) {
	s.mu.Lock()
	s.trailer = metadata.Join(s.trailer, md)
	s.mu.Unlock()
}

// SendMsg sends one message, waiting while the client's credit is spent.
func (s *serverStream) SendMsg(m any) error {
	bp := getBuf()
	defer putBuf(bp)
	b, n, err := appendMessage(*bp, s.id, m)
	*bp = b
	if err != nil {
		return status.Error(codes.Internal, err.Error())
	}
	if n > s.t.srv.opts.maxSend {
		return status.Errorf(codes.ResourceExhausted, "grpc: trying to send message larger than max (%d vs. %d)", n, s.t.srv.opts.maxSend)
	}
	s.mu.Lock()
	for s.sendCredit <= 0 && !s.done && s.ctx.Err() == nil {
		s.cond.Wait()
	}
	if s.done || s.ctx.Err() != nil {
		s.mu.Unlock()
		return s.ctxErr()
	}
	s.sendCredit -= n + msgOverhead
	header := !s.headerSent && len(s.header) > 0
	if header {
		b = append(appendHeadersFrame(nil, s.id, s.header), b...)
	}
	s.headerSent = true
	s.mu.Unlock()
	if header {
		s.stats.outHeader(s.method, s.header, nil, nil)
	}
	if err := s.t.write(b); err != nil {
		return status.Errorf(codes.Unavailable, "fastrpc: write: %v", err)
	}
	s.stats.outPayload(m, n)
	return nil
}

// transportStream is what grpc.SetHeader, grpc.SendHeader and
// grpc.SetTrailer find in a handler's context.
type transportStream struct{ s *serverStream }

func (ts transportStream) Method() string                  { return ts.s.method }
func (ts transportStream) SetHeader(md metadata.MD) error  { return ts.s.SetHeader(md) }
func (ts transportStream) SendHeader(md metadata.MD) error { return ts.s.SendHeader(md) }
func (ts transportStream) SetTrailer(md metadata.MD) error { ts.s.SetTrailer(md); return nil }
