package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/otlptest"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/network"
	"github.com/tetherplug/tether/tethertest"
)

// TestServeTracing: tether serve started with the standard OTEL_*
// variables traces the calls it forwards and passes the context on to the
// plugin it launched (which inherits the variables and exports too): a
// traced host's call answered with a callback makes one trace, host
// client → serve server → plugin server → plugin client → host server.
func TestServeTracing(t *testing.T) {
	rcv := otlptest.NewReceiver(t)
	for _, kv := range rcv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	s := startServe(t, tethertest.Build(t, callbackPluginPkg), "--insecure")
	host := otlptest.NewHost(t, "host")
	c := openThrough(t, s, network.WithInsecure(), tether.WithInterface("echo", 1), tether.WithTracing(host.Provider, nil),
		tether.WithCallbacks(func(r grpc.ServiceRegistrar) { echov1.RegisterEchoServer(r, hostEcho{}) }))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := echov1.NewEchoClient(c.Conn()).Unary(ctx, &echov1.Message{Text: "hi"})
	if err != nil || m.GetText() != "plugin:host:hi" {
		t.Fatalf("call with a callback through serve: %v, %v; want plugin:host:hi", m, err)
	}
	hs := host.WaitSpans(t, 2, 5*time.Second)
	remote := rcv.WaitSpans(t, hs[0].TraceID, 3, 10*time.Second)
	const unary = "tether.echo.v1.Echo/Unary"
	otlptest.CheckChain(t, []otlptest.Span{
		otlptest.Find(t, hs, "client", "host", unary),
		otlptest.Find(t, remote, "server", "tether-serve", unary),
		otlptest.Find(t, remote, "server", "callback", unary),
		otlptest.Find(t, remote, "client", "callback", unary),
		otlptest.Find(t, hs, "server", "host", unary),
	})
}
