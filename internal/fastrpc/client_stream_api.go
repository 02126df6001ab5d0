package fastrpc

import (
	"context"
	"io"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Header waits for the server's header metadata (or the end of the stream).
func (s *clientStream) Header() (metadata.MD, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for !s.gotHeader && s.st == nil {
		s.cond.Wait()
	}
	if !s.gotHeader && s.st.Code() != codes.OK {
		return nil, s.st.Err()
	}
	return s.header, nil
}

// Trailer returns the trailer metadata once the stream has ended.
func (s *clientStream) Trailer() metadata.MD {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.trailer
}

// Context returns the call's context.
func (s *clientStream) Context() context.Context { return s.ctx }

// CloseSend tells the server no more messages follow.
func (s *clientStream) CloseSend() error {
	s.mu.Lock()
	if s.sentClose || s.st != nil {
		s.mu.Unlock()
		return nil
	}
	s.sentClose = true
	s.mu.Unlock()
	bp := getBuf()
	defer putBuf(bp)
	*bp = appendFrame(*bp, frameHalfClose, s.id, nil)
	if err := s.t.write(*bp); err != nil {
		_ = s.sendFailed(err)
	}
	return nil
}

// SendMsg sends one message, waiting for credit while the server is behind.
// Once the stream has ended it returns io.EOF, and RecvMsg gives the status.
func (s *clientStream) SendMsg(m any) error {
	bp := getBuf()
	defer putBuf(bp)
	b, n, err := appendMessage(*bp, s.id, m)
	*bp = b
	if err != nil {
		return status.Error(codes.Internal, err.Error())
	}
	if n > s.maxSend {
		return status.Errorf(codes.ResourceExhausted, "grpc: trying to send message larger than max (%d vs. %d)", n, s.maxSend)
	}
	s.mu.Lock()
	for s.sendCredit <= 0 && s.st == nil {
		s.cond.Wait()
	}
	if s.st != nil || s.sentClose {
		s.mu.Unlock()
		return io.EOF
	}
	s.sendCredit -= n + msgOverhead
	s.mu.Unlock()
	if err := s.t.write(b); err != nil {
		_ = s.sendFailed(err)
		return io.EOF
	}
	s.stats.outPayload(m, n)
	return nil
}

// RecvMsg receives the next message into m. For a call whose server sends
// one message it also waits for the status, as grpc-go does.
func (s *clientStream) RecvMsg(m any) error {
	b, err := s.next()
	if err != nil {
		return err
	}
	if err := s.decode(b, m); err != nil {
		return err
	}
	if s.desc.ServerStreams {
		return nil
	}
	s.mu.Lock()
	s.gotReply = true
	for s.st == nil {
		s.cond.Wait()
	}
	st, extra := s.st, len(s.in.msgs) > 0
	s.mu.Unlock()
	if st.Code() != codes.OK {
		return st.Err()
	}
	if extra {
		return status.Error(codes.Internal, "fastrpc: server sent more than one response message")
	}
	return nil
}

// next pops the next message payload, returning credit to the server as the
// caller consumes.
func (s *clientStream) next() ([]byte, error) {
	s.mu.Lock()
	for len(s.in.msgs) == 0 && s.st == nil {
		s.cond.Wait()
	}
	if len(s.in.msgs) == 0 {
		st := s.st
		s.mu.Unlock()
		if st.Code() == codes.OK {
			if !s.desc.ServerStreams && !s.gotReply {
				return nil, status.Error(codes.Internal, "fastrpc: server sent no response message")
			}
			return nil, io.EOF // the stream is over, as grpc-go says after its one reply too
		}
		return nil, st.Err()
	}
	b, grant := s.in.pop()
	done := s.st != nil
	s.mu.Unlock()
	if grant > 0 && !done {
		bp := getBuf()
		*bp = appendCredit(*bp, s.id, grant)
		_ = s.t.write(*bp)
		putBuf(bp)
	}
	return b, nil
}

func (s *clientStream) decode(b []byte, m any) error {
	return unmarshalMessage(b, m)
}
