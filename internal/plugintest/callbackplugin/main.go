// Command callbackplugin is the plugin tether's callback tests launch. It
// serves Echo ("echo" v1) by calling the host back: each method forwards what
// it receives to the Echo service the host provides, over the plugin's
// HostConn, and returns the host's answers with "plugin:" prefixed to their
// text. Unary with text "local" answers without a callback. A failed
// callback is logged at warn with its gRPC code and duration.
package main

import (
	"context"
	"io"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
)

type relay struct {
	echov1.UnimplementedEchoServer
	host echov1.EchoClient
	log  interface{ Warn(string, ...any) }
}

func (r relay) Unary(ctx context.Context, m *echov1.Message) (*echov1.Message, error) {
	if m.GetText() == "local" {
		return m, nil
	}
	start := time.Now()
	resp, err := r.host.Unary(ctx, m)
	if err != nil {
		r.log.Warn("callback failed", "code", status.Code(err).String(), "elapsed_ms", time.Since(start).Milliseconds())
		return nil, err
	}
	resp.Text = "plugin:" + resp.GetText()
	return resp, nil
}

func (r relay) Bidi(s grpc.BidiStreamingServer[echov1.Message, echov1.Message]) error {
	up, err := r.host.Bidi(s.Context())
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

func main() {
	host := tether.NewHostConn()
	log := tether.Logger()
	impl := relay{host: echov1.NewEchoClient(host), log: log}
	tether.Serve(tether.ServeConfig{
		Name:   "callback",
		Host:   host,
		Logger: log,
		Implementations: []tether.Implementation{
			tether.Implement("echo", 1, func(r grpc.ServiceRegistrar) { echov1.RegisterEchoServer(r, impl) }),
		},
	})
}
