package fastrpc

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/tetherplug/tether/internal/pb/echov1"
)

func TestMessageSizeLimits(t *testing.T) {
	impl := newTestEcho()
	cc, _ := startServer(t, impl, []ServerOption{WithServerMaxRecvMsgSize(64 << 10)}, WithMaxSendMsgSize(128<<10))
	c := echov1.NewEchoClient(cc)
	ctx := ctxTimeout(t, 10*time.Second)

	// Above the client's send limit: refused before sending.
	_, err := c.Unary(ctx, &echov1.Message{Payload: make([]byte, 200<<10)})
	wantCode(t, err, codes.ResourceExhausted)
	// Above the server's receive limit: refused by the server.
	_, err = c.Unary(ctx, &echov1.Message{Payload: make([]byte, 100<<10)})
	wantCode(t, err, codes.ResourceExhausted)
	// Above a per-call receive limit: refused by the client.
	_, err = c.Unary(ctx, &echov1.Message{Text: "big", Count: 10 << 10}, grpc.MaxCallRecvMsgSize(1<<10))
	wantCode(t, err, codes.ResourceExhausted)
	// The same stream limit applies to streams.
	s, err := c.ClientStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Send(&echov1.Message{Payload: make([]byte, 100<<10)})
	_, err = s.CloseAndRecv()
	wantCode(t, err, codes.ResourceExhausted)
	// None of this broke the connection.
	if _, err := c.Unary(ctx, &echov1.Message{Payload: make([]byte, 60<<10)}); err != nil {
		t.Fatal(err)
	}
}

func TestSixtyFourConcurrentCallers(t *testing.T) {
	c, _ := echoClient(t)
	ctx := ctxTimeout(t, 30*time.Second)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 64; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				text := fmt.Sprintf("%d/%d", g, i)
				m, err := c.Unary(ctx, &echov1.Message{Text: text, Payload: make([]byte, (g*i)%5000)})
				if err == nil && (m.GetText() != text || len(m.GetPayload()) != (g*i)%5000) {
					err = fmt.Errorf("sent %s, got %s", text, m.GetText())
				}
				if err != nil {
					errs <- err
					return
				}
			}
			// A stream per caller too, interleaved with the others.
			s, err := c.Bidi(ctx)
			if err == nil {
				err = s.Send(&echov1.Message{Count: uint32(g)})
			}
			if err == nil {
				var m *echov1.Message
				if m, err = s.Recv(); err == nil && m.GetCount() != uint32(g) {
					err = fmt.Errorf("bidi %d got %d", g, m.GetCount())
				}
			}
			if err == nil {
				err = s.CloseSend()
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestSlowReaderBoundsSender: a server streaming to a client that does not
// read stops once its credit is spent instead of filling memory, and
// resumes as the client reads.
func TestSlowReaderBoundsSender(t *testing.T) {
	var sent sync.Map
	count := func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		return h(srv, &countingStream{ServerStream: ss, n: &sent})
	}
	c, _ := echoClient(t, WithStreamInterceptors(count))
	ctx := ctxTimeout(t, 20*time.Second)
	const size, total = 64 << 10, 200 // 12.5 MiB in all
	s, err := c.ServerStream(ctx, &echov1.Message{Payload: make([]byte, size), Count: total})
	if err != nil {
		t.Fatal(err)
	}
	sends := func() int { v, _ := sent.Load("n"); n, _ := v.(int); return n }
	// Wait until the sender stalls: the count stops moving.
	last, stable := -1, 0
	for stable < 5 {
		time.Sleep(20 * time.Millisecond)
		if n := sends(); n == last {
			stable++
		} else {
			last, stable = n, 0
		}
	}
	if max := initialWindow/size + 2; last > max {
		t.Fatalf("the server sent %d messages of %d bytes to a client that read none; credit allows %d", last, size, max)
	}
	for i := 0; i < total; i++ {
		if _, err := s.Recv(); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	// The server counts a message once its SendMsg returned, which may be
	// a moment after the client received it.
	waitFor(t, func() bool { return sends() == total })
}

type countingStream struct {
	grpc.ServerStream
	n *sync.Map
}

func (s *countingStream) SendMsg(m any) error {
	err := s.ServerStream.SendMsg(m)
	v, _ := s.n.Load("n")
	n, _ := v.(int)
	s.n.Store("n", n+1)
	return err
}

func TestMaxConcurrentStreams(t *testing.T) {
	impl := newTestEcho()
	t.Cleanup(func() { close(impl.release) })
	cc, _ := startServer(t, impl, []ServerOption{WithMaxConcurrentStreams(2)})
	c := echov1.NewEchoClient(cc)
	ctx := ctxTimeout(t, 10*time.Second)
	for i := 0; i < 2; i++ {
		go func() { _, _ = c.Unary(ctx, &echov1.Message{Text: "stuck"}) }()
		recvCtx(t, impl.entered, 5*time.Second, "stuck call reaching the handler")
	}
	_, err := c.Unary(ctx, &echov1.Message{})
	if st := wantCode(t, err, codes.ResourceExhausted); st.Message() != "fastrpc: more than 2 calls in flight on one connection" {
		t.Fatalf("message %q", st.Message())
	}
}

// TestLargeMessagesKeepTheirBytes: pooled buffers are reused only once a
// message is decoded, so concurrent large echoes come back intact.
func TestLargeMessagesKeepTheirBytes(t *testing.T) {
	c, _ := echoClient(t)
	ctx := ctxTimeout(t, 30*time.Second)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				p := bytes.Repeat([]byte{byte(g*20 + i)}, 8<<10+(g*i*7919)%(200<<10))
				m, err := c.Unary(ctx, &echov1.Message{Payload: p})
				if err == nil && !bytes.Equal(m.GetPayload(), p) {
					err = fmt.Errorf("caller %d call %d: %d bytes back, not the %d sent", g, i, len(m.GetPayload()), len(p))
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
