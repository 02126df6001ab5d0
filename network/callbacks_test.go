package network_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/plugintest"
	testpki "github.com/tetherplug/tether/internal/plugintest/pki"
	"github.com/tetherplug/tether/network"
)

// TestCallbacksOverMutualTLS: two hosts load one callback plugin serving
// on TCP with mutual TLS, and call it at the same time; the plugin answers
// each call by calling back the host that made it, over that host's own
// connection. Every answer comes from the caller's own callback service.
func TestCallbacksOverMutualTLS(t *testing.T) {
	t.Parallel()
	ca := testpki.NewCA(t, "test CA")
	dir := t.TempDir()
	srv, cli := ca.Server(t), ca.Client(t, "host")
	caFile := testpki.WriteFile(t, dir, "ca.crt", ca.PEM)
	_, addr := serveProcess(t, plugintest.CallbackPlugin,
		tether.EnvTLSCert+"="+testpki.WriteFile(t, dir, "server.crt", srv.CertPEM),
		tether.EnvTLSKey+"="+testpki.WriteFile(t, dir, "server.key", srv.KeyPEM),
		tether.EnvTLSClientCA+"="+caFile)
	tlsOpt := network.WithTLSFiles(testpki.WriteFile(t, dir, "client.crt", cli.CertPEM),
		testpki.WriteFile(t, dir, "client.key", cli.KeyPEM), caFile)
	var wg sync.WaitGroup
	errs := make(chan error, 2*200)
	for _, tag := range []string{"A", "B"} {
		c := open(t, "tcp://"+addr, tlsOpt, tether.WithCallbacks(func(r grpc.ServiceRegistrar) {
			echov1.RegisterEchoServer(r, plugintest.TaggedEcho{Tag: tag})
		}))
		echo, _ := tether.Dispense(c, "echo", echov1.NewEchoClient)
		for i := range 200 {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
				defer cancel()
				text := fmt.Sprintf("%s-%d", tag, i)
				resp, err := echo.Unary(ctx, &echov1.Message{Text: text})
				switch {
				case err != nil:
					errs <- fmt.Errorf("host %s call %d: %w", tag, i, err)
				case resp.GetText() != "plugin:"+tag+":"+text:
					errs <- fmt.Errorf("host %s call %d answered %q: another host's callback", tag, i, resp.GetText())
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	n := 0
	for err := range errs {
		if n++; n <= 5 {
			t.Error(err)
		}
	}
	if n > 0 {
		t.Fatalf("%d of 400 calls went wrong", n)
	}
}
