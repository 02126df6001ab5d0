// Command callbackplugin is the plugin tether's callback tests and
// benchmarks launch. It serves Echo ("echo" v1) with plugintest.Relay over
// its HostConn: every call is forwarded to the Echo service the host
// provides, over the plugin's own connection.
//
// With CALLBACK_REPORT set to a file path, the plugin also logs there
// (JSON lines), for tests whose host is gone and cannot receive its stderr.
package main

import (
	"io"
	"log/slog"
	"os"

	"google.golang.org/grpc"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/plugintest"
)

func main() {
	host := tether.NewHostConn()
	log := tether.Logger()
	if path := os.Getenv("CALLBACK_REPORT"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			panic(err)
		}
		// The file first: writes to stderr fail once the host is gone.
		log = slog.New(slog.NewJSONHandler(io.MultiWriter(f, os.Stderr), nil))
	}
	impl := plugintest.Relay{Host: echov1.NewEchoClient(host), Log: log}
	tether.Serve(tether.ServeConfig{
		Name:   "callback",
		Host:   host,
		Logger: log,
		Implementations: []tether.Implementation{
			tether.Implement("echo", 1, func(r grpc.ServiceRegistrar) { echov1.RegisterEchoServer(r, impl) }),
		},
	})
}
