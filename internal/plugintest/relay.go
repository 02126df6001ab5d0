package plugintest

import (
	"context"
	"io"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	"github.com/tetherplug/tether/internal/pb/echov1"
)

// Relay serves Echo by calling another Echo server back (the host, for
// callback tests and benchmarks): each method forwards what it receives to
// Host and returns the answers with "plugin:" prefixed to their text. Unary
// with text "local" answers without a callback. A failed callback is logged
// at warn with its gRPC code and duration.
type Relay struct {
	echov1.UnimplementedEchoServer
	Host echov1.EchoClient
	Log  interface{ Warn(string, ...any) }
}

// Unary forwards one message to the host.
func (r Relay) Unary(ctx context.Context, m *echov1.Message) (*echov1.Message, error) {
	if m.GetText() == "local" {
		return m, nil
	}
	start := time.Now()
	resp, err := r.Host.Unary(ctx, m)
	if err != nil {
		r.Log.Warn("callback failed", "code", status.Code(err).String(), "elapsed_ms", time.Since(start).Milliseconds())
		return nil, err
	}
	resp.Text = "plugin:" + resp.GetText()
	return resp, nil
}

// Bidi forwards a stream to the host and the host's answers back.
func (r Relay) Bidi(s grpc.BidiStreamingServer[echov1.Message, echov1.Message]) error {
	up, err := r.Host.Bidi(s.Context())
	if err != nil {
		return err
	}
	errs := make(chan error, 1)
	go func() {
		for {
			m, err := s.Recv()
			if err == io.EOF {
				errs <- up.CloseSend()
				return
			}
			if err != nil {
				errs <- err
				return
			}
			if err := up.Send(m); err != nil {
				errs <- err
				return
			}
		}
	}()
	for {
		m, err := up.Recv()
		if err == io.EOF {
			return <-errs
		}
		if err != nil {
			return err
		}
		m.Text = "plugin:" + m.GetText()
		if err := s.Send(m); err != nil {
			return err
		}
	}
}
