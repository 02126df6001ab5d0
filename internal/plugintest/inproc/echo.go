package inproc

import (
	"log/slog"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/plugintest"
)

// ServeEcho serves echo as interface echo v1 of a tether plugin in the
// test's process, on lis, with the server options given (credentials,
// say), until the test ends; the test fails if the server does not stop
// within 5 s then.
func ServeEcho(t testing.TB, lis net.Listener, echo echov1.EchoServer, opts ...grpc.ServerOption) *tether.Server {
	t.Helper()
	srv := tether.NewServer(tether.ServeConfig{Name: "echo", Logger: slog.New(slog.DiscardHandler),
		ShutdownTimeout: 100 * time.Millisecond,
		Implementations: []tether.Implementation{tether.Implement("echo", 1, func(r grpc.ServiceRegistrar) {
			echov1.RegisterEchoServer(r, echo)
		})}}, opts...)
	plugintest.Serve(t, "the in-process plugin server", lis, srv)
	return srv
}
