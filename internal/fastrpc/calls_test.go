package fastrpc

import (
	"bytes"
	"context"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/tetherplug/tether/internal/pb/echov1"
)

func TestUnaryEchoesThroughGeneratedStub(t *testing.T) {
	c, _ := echoClient(t)
	ctx := ctxTimeout(t, 10*time.Second)
	payload := bytes.Repeat([]byte("abc"), 1000)
	var p peer.Peer
	got, err := c.Unary(ctx, &echov1.Message{Payload: payload, Text: "hi", Count: 7}, grpc.Peer(&p))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.GetPayload(), payload) || got.GetText() != "hi" || got.GetCount() != 7 {
		t.Fatalf("echo = %v", got)
	}
	if p.Addr == nil || p.Addr.Network() != "unix" {
		t.Fatalf("peer = %+v, want a unix address", p)
	}
	// An empty message is a message too.
	if _, err := c.Unary(ctx, &echov1.Message{}); err != nil {
		t.Fatal(err)
	}
}

func TestServerStreamSendsCountMessages(t *testing.T) {
	c, _ := echoClient(t)
	s, err := c.ServerStream(ctxTimeout(t, 10*time.Second), &echov1.Message{Text: "x", Count: 500})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		m, err := s.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if m.GetText() != "x" {
			t.Fatalf("message %d = %v", n, m)
		}
		n++
	}
	if n != 500 {
		t.Fatalf("got %d messages, want 500", n)
	}
}

func TestClientStreamConcatenates(t *testing.T) {
	c, _ := echoClient(t)
	s, err := c.ClientStream(ctxTimeout(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for i := 0; i < 300; i++ {
		chunk := strings.Repeat(string(rune('a'+i%26)), 1000)
		want.WriteString(chunk)
		if err := s.Send(&echov1.Message{Payload: []byte(chunk)}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.CloseAndRecv()
	if err != nil {
		t.Fatal(err)
	}
	if got.GetCount() != 300 || string(got.GetPayload()) != want.String() {
		t.Fatalf("count %d, %d bytes; want 300 and %d bytes", got.GetCount(), len(got.GetPayload()), want.Len())
	}
	// Callers that read until io.EOF (a generic client, tether call) get
	// it after the one reply, as from grpc-go.
	if err := s.RecvMsg(&echov1.Message{}); err != io.EOF {
		t.Fatalf("RecvMsg after the reply = %v, want io.EOF", err)
	}
}

func TestBidiEchoesEachMessage(t *testing.T) {
	c, _ := echoClient(t)
	s, err := c.Bidi(ctxTimeout(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		if err := s.Send(&echov1.Message{Count: uint32(i)}); err != nil {
			t.Fatal(err)
		}
		m, err := s.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if m.GetCount() != uint32(i) {
			t.Fatalf("reply %d has count %d", i, m.GetCount())
		}
	}
	if err := s.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Recv(); err != io.EOF {
		t.Fatalf("after CloseSend: %v, want io.EOF", err)
	}
}

func TestMetadataBothWaysUnary(t *testing.T) {
	c, _ := echoClient(t)
	ctx := metadata.AppendToOutgoingContext(ctxTimeout(t, 10*time.Second), "x-in", "v1")
	var hdr, trl metadata.MD
	if _, err := c.Unary(ctx, &echov1.Message{Text: "meta"}, grpc.Header(&hdr), grpc.Trailer(&trl)); err != nil {
		t.Fatal(err)
	}
	if first(hdr["h-echo"]) != "v1" || first(trl["t-echo"]) != "v1" {
		t.Fatalf("header %v trailer %v: want h-echo and t-echo = v1", hdr, trl)
	}
}

func TestMetadataBothWaysStream(t *testing.T) {
	ic := func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		in, _ := metadata.FromIncomingContext(ss.Context())
		if err := ss.SendHeader(metadata.Pairs("h-echo", first(in["x-in"]))); err != nil {
			return err
		}
		err := h(srv, ss)
		ss.SetTrailer(metadata.Pairs("t-echo", first(in["x-in"])))
		return err
	}
	c, _ := echoClient(t, WithStreamInterceptors(ic))
	ctx := metadata.AppendToOutgoingContext(ctxTimeout(t, 10*time.Second), "x-in", "v2")
	s, err := c.Bidi(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Headers arrive before any message is sent.
	hdr, err := s.Header()
	if err != nil || first(hdr["h-echo"]) != "v2" {
		t.Fatalf("Header() = %v, %v; want h-echo = v2", hdr, err)
	}
	if err := s.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Recv(); err != io.EOF {
		t.Fatalf("Recv = %v, want io.EOF", err)
	}
	if first(s.Trailer()["t-echo"]) != "v2" {
		t.Fatalf("trailer %v, want t-echo = v2", s.Trailer())
	}
}

func TestStatusCarriesDetails(t *testing.T) {
	c, _ := echoClient(t)
	_, err := c.Unary(ctxTimeout(t, 10*time.Second), &echov1.Message{Text: "details"})
	st := wantCode(t, err, codes.FailedPrecondition)
	if st.Message() != "the echo is not ready" {
		t.Fatalf("message %q", st.Message())
	}
	ds := st.Details()
	if len(ds) != 1 {
		t.Fatalf("details %v, want one", ds)
	}
	if m, ok := ds[0].(*echov1.Message); !ok || m.GetText() != "why: warming up" {
		t.Fatalf("detail %#v", ds[0])
	}
	// A code the service chose travels as is.
	_, err = c.Unary(ctxTimeout(t, 10*time.Second), &echov1.Message{Text: "fail:unavailable"})
	wantCode(t, err, codes.Unavailable)
}

func TestUnknownServiceAndMethodAreUnimplemented(t *testing.T) {
	cc, _ := startServer(t, newTestEcho(), nil)
	ctx := ctxTimeout(t, 10*time.Second)
	for method, want := range map[string]string{
		"/nope.v1.Svc/Call":           "unknown service nope.v1.Svc",
		"/tether.echo.v1.Echo/Absent": "unknown method Absent for service tether.echo.v1.Echo",
		"no-slash":                    "malformed method name",
	} {
		err := cc.Invoke(ctx, method, &echov1.Message{}, &echov1.Message{})
		if st := wantCode(t, err, codes.Unimplemented); !strings.Contains(st.Message(), want) {
			t.Errorf("%s: %q, want it to contain %q", method, st.Message(), want)
		}
	}
	// The connection is still good.
	if err := cc.Invoke(ctx, echov1.Echo_Unary_FullMethodName, &echov1.Message{}, &echov1.Message{}); err != nil {
		t.Fatal(err)
	}
}

func TestInterceptorsChainInOrder(t *testing.T) {
	var order []string
	mk := func(name string) grpc.UnaryServerInterceptor {
		return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			order = append(order, name+">"+info.FullMethod)
			return h(ctx, req)
		}
	}
	refuse := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if req.(*echov1.Message).GetText() == "deny" {
			return nil, status.Error(codes.PermissionDenied, "denied by interceptor")
		}
		return h(ctx, req)
	}
	c, _ := echoClient(t, WithUnaryInterceptors(mk("a"), mk("b")), WithUnaryInterceptors(refuse))
	ctx := ctxTimeout(t, 10*time.Second)
	if _, err := c.Unary(ctx, &echov1.Message{}); err != nil {
		t.Fatal(err)
	}
	want := "a>" + echov1.Echo_Unary_FullMethodName + " b>" + echov1.Echo_Unary_FullMethodName
	if got := strings.Join(order, " "); got != want {
		t.Fatalf("order %q, want %q", got, want)
	}
	_, err := c.Unary(ctx, &echov1.Message{Text: "deny"})
	wantCode(t, err, codes.PermissionDenied)
	if errors.Is(err, io.EOF) {
		t.Fatal("unreachable")
	}
}

// TestNoGoroutinePerCall: calls with a cancelable context leave no
// goroutine behind on either side.
func TestNoGoroutinePerCall(t *testing.T) {
	c, _ := echoClient(t)
	call := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := c.Unary(ctx, &echov1.Message{}); err != nil {
			t.Fatal(err)
		}
	}
	call() // connect
	before := runtime.NumGoroutine()
	for i := 0; i < 500; i++ {
		call()
	}
	if after := runtime.NumGoroutine(); after > before+2 {
		t.Fatalf("%d goroutines before 500 calls, %d after", before, after)
	}
}
