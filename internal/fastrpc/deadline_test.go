package fastrpc

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tetherplug/tether/internal/pb/echov1"
)

func TestClientDeadlineReachesHandler(t *testing.T) {
	c, impl := echoClient(t)
	t.Cleanup(func() { close(impl.release) })
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	want, _ := ctx.Deadline()
	errc := make(chan error, 1)
	go func() {
		_, err := c.Unary(ctx, &echov1.Message{Text: "stuck"})
		errc <- err
	}()
	hctx := recvCtx(t, impl.entered, 5*time.Second, "call reaching the handler")
	got, ok := hctx.Deadline()
	if !ok || got.Sub(want).Abs() > 100*time.Millisecond {
		t.Fatalf("handler deadline %v (set %v), want about %v", got, ok, want)
	}
	wantCode(t, recvCtx(t, errc, 5*time.Second, "call result"), codes.DeadlineExceeded)
	// The handler's context ends too, though the handler ignores it.
	select {
	case <-hctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the handler's context did not end after the deadline")
	}
}

// TestServerEndsCallAtDeadline speaks the wire directly, with no client-side
// timer: the server itself must answer DeadlineExceeded when the handler
// ignores its context.
func TestServerEndsCallAtDeadline(t *testing.T) {
	impl := newTestEcho()
	t.Cleanup(func() { close(impl.release) })
	path := startRawServer(t, impl)
	nc, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	w := newWire(nc, DefaultMaxMsgSize, clientReadBuffer)
	b := append([]byte(nil), preface[:]...)
	b = appendFrame(b, frameRequest, 1, func(b []byte) []byte {
		return appendRequest(b, request{method: echov1.Echo_Unary_FullMethodName, timeout: 100 * time.Millisecond})
	})
	b, _, _ = appendMessage(b, 1, &echov1.Message{Text: "stuck"})
	b = appendFrame(b, frameHalfClose, 1, nil)
	if err := w.write(b); err != nil {
		t.Fatal(err)
	}
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if err := w.readPreface(); err != nil {
		t.Fatal(err)
	}
	h, p, err := w.fr.readFrame()
	if err != nil {
		t.Fatal(err)
	}
	if h.typ != frameTrailers || h.stream != 1 {
		t.Fatalf("got %v frame on stream %d, want trailers on 1", h.typ, h.stream)
	}
	st, _, err := decodeTrailers(p)
	if err != nil {
		t.Fatal(err)
	}
	if statusFromProto(st).Code() != codes.DeadlineExceeded {
		t.Fatalf("status %v, want DeadlineExceeded", st)
	}
}

// startRawServer serves impl and returns the socket path only.
func startRawServer(t *testing.T, impl echov1.EchoServer, opts ...ServerOption) string {
	path := sockPath(t)
	lis, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(opts...)
	echov1.RegisterEchoServer(srv, impl)
	done := make(chan struct{})
	go func() { _ = srv.Serve(lis); close(done) }()
	t.Cleanup(func() {
		srv.Close()
		recvCtx(t, done, 5*time.Second, "Serve returning")
	})
	return path
}

func TestClientCancelReachesHandler(t *testing.T) {
	c, impl := echoClient(t)
	t.Cleanup(func() { close(impl.release) })
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := c.Unary(ctx, &echov1.Message{Text: "stuck"})
		errc <- err
	}()
	hctx := recvCtx(t, impl.entered, 5*time.Second, "call reaching the handler")
	cancel()
	wantCode(t, recvCtx(t, errc, 5*time.Second, "call result"), codes.Canceled)
	select {
	case <-hctx.Done():
		if !errors.Is(hctx.Err(), context.Canceled) {
			t.Fatalf("handler context: %v, want Canceled", hctx.Err())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the handler's context did not end after the client canceled")
	}
}

func TestClientCancelEndsStream(t *testing.T) {
	c, _ := echoClient(t)
	ctx, cancel := context.WithCancel(context.Background())
	s, err := c.ServerStream(ctx, &echov1.Message{Count: 1 << 30, Payload: make([]byte, 1024)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Recv(); err != nil {
		t.Fatal(err)
	}
	cancel()
	deadline := time.After(5 * time.Second)
	for {
		_, err := s.Recv()
		if err != nil {
			wantCode(t, err, codes.Canceled)
			break
		}
		select {
		case <-deadline:
			t.Fatal("stream still delivering 5s after cancel")
		default:
		}
	}
}

func TestServerAbortEndsClientStream(t *testing.T) {
	abort := func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		var m echov1.Message
		if err := ss.RecvMsg(&m); err != nil {
			return err
		}
		return status.Error(codes.Aborted, "the server gave up on "+m.GetText())
	}
	c, _ := echoClient(t, WithStreamInterceptors(abort))
	s, err := c.Bidi(ctxTimeout(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(&echov1.Message{Text: "this"}); err != nil {
		t.Fatal(err)
	}
	_, err = s.Recv()
	if st := wantCode(t, err, codes.Aborted); st.Message() != "the server gave up on this" {
		t.Fatalf("message %q", st.Message())
	}
	if err := s.Send(&echov1.Message{}); err != io.EOF {
		t.Fatalf("Send after the server ended the call: %v, want io.EOF", err)
	}
}
