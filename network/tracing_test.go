package network_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/otlptest"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/plugintest"
	testpki "github.com/tetherplug/tether/internal/plugintest/pki"
	"github.com/tetherplug/tether/network"
)

// TestTracingOverMutualTLS: a network plugin (TCP, mutual TLS) configured
// by the standard OTEL_* variables alone exports its spans; with a host
// that traces, one call answered by a callback makes one trace across both
// processes: host client → plugin server → plugin client → host server.
func TestTracingOverMutualTLS(t *testing.T) {
	t.Parallel()
	rcv := otlptest.NewReceiver(t)
	ca := testpki.NewCA(t, "test CA")
	dir := t.TempDir()
	srv, cli := ca.Server(t), ca.Client(t, "host")
	caFile := testpki.WriteFile(t, dir, "ca.crt", ca.PEM)
	_, addr := serveProcess(t, plugintest.CallbackPlugin, append(rcv.Env(),
		"OTEL_SERVICE_NAME=callback-net",
		tether.EnvTLSCert+"="+testpki.WriteFile(t, dir, "server.crt", srv.CertPEM),
		tether.EnvTLSKey+"="+testpki.WriteFile(t, dir, "server.key", srv.KeyPEM),
		tether.EnvTLSClientCA+"="+caFile)...)
	host := otlptest.NewHost(t, "host")
	c := open(t, "tcp://"+addr,
		network.WithTLSFiles(testpki.WriteFile(t, dir, "client.crt", cli.CertPEM),
			testpki.WriteFile(t, dir, "client.key", cli.KeyPEM), caFile),
		tether.WithTracing(host.Provider, nil),
		tether.WithCallbacks(func(r grpc.ServiceRegistrar) {
			echov1.RegisterEchoServer(r, plugintest.TaggedEcho{Tag: "A"})
		}))
	echo, _ := tether.Dispense(c, "echo", echov1.NewEchoClient)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	resp, err := echo.Unary(ctx, &echov1.Message{Text: "traced"})
	if err != nil || resp.GetText() != "plugin:A:traced" {
		t.Fatalf("relayed call: %q, %v", resp.GetText(), err)
	}
	hs := host.WaitSpans(t, 2, 5*time.Second)
	ps := rcv.WaitSpans(t, hs[0].TraceID, 2, 10*time.Second)
	otlptest.CheckCallback(t, hs, ps, "tether.echo.v1.Echo/Unary", "host", "callback-net")
}
