package plugintest

import (
	"bytes"
	"context"
	"io"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tetherplug/tether/internal/pb/echov1"
)

// EchoServer implements the Echo test service.
type EchoServer struct {
	echov1.UnimplementedEchoServer
}

func wait(ctx context.Context, ms uint32) error {
	if ms == 0 {
		return nil
	}
	t := time.NewTimer(time.Duration(ms) * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return status.FromContextError(ctx.Err()).Err()
	}
}

// UnavailableText makes Unary answer codes.Unavailable itself.
const UnavailableText = "fail:unavailable"

// Unary echoes the message after its delay, or fails when its text is
// UnavailableText.
func (EchoServer) Unary(ctx context.Context, m *echov1.Message) (*echov1.Message, error) {
	if err := wait(ctx, m.GetDelayMs()); err != nil {
		return nil, err
	}
	if m.GetText() == UnavailableText {
		return nil, status.Error(codes.Unavailable, "the echo plugin answers unavailable")
	}
	return m, nil
}

// ServerStream sends the message back Count times.
func (EchoServer) ServerStream(m *echov1.Message, s grpc.ServerStreamingServer[echov1.Message]) error {
	for i := uint32(0); i < m.GetCount(); i++ {
		if err := wait(s.Context(), m.GetDelayMs()); err != nil {
			return err
		}
		if err := s.Send(m); err != nil {
			return err
		}
	}
	return nil
}

// ClientStream concatenates every payload and text received.
func (EchoServer) ClientStream(s grpc.ClientStreamingServer[echov1.Message, echov1.Message]) error {
	var payload bytes.Buffer
	var text string
	var n uint32
	for {
		m, err := s.Recv()
		if err == io.EOF {
			return s.SendAndClose(&echov1.Message{Payload: payload.Bytes(), Text: text, Count: n})
		}
		if err != nil {
			return err
		}
		payload.Write(m.GetPayload())
		text += m.GetText()
		n++
	}
}

// Bidi echoes each message as it arrives.
func (EchoServer) Bidi(s grpc.BidiStreamingServer[echov1.Message, echov1.Message]) error {
	for {
		m, err := s.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := wait(s.Context(), m.GetDelayMs()); err != nil {
			return err
		}
		if err := s.Send(m); err != nil {
			return err
		}
	}
}

// Unimplemented returns an error with the given code, for tests of error
// mapping.
func Unimplemented(method string) error {
	return status.Errorf(codes.Unimplemented, "method %s not implemented", method)
}
