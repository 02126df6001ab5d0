package kubecluster

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/otlptest"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/plugintest"
	"github.com/tetherplug/tether/kube"
)

const (
	callbackImage = "tether.test/callback:v1"
	echoUnarySpan = "tether.echo.v1.Echo/Unary"
)

// openTraced deploys the callback plugin as kube://NS/name with env in its
// pods, from a host that traces into host and serves Echo as a callback
// (answering "host:" + the text); it returns the plugin's Echo client once
// its pod is admitted.
func openTraced(t *testing.T, c *cluster, name string, host *otlptest.Host, env map[string]string) echov1.EchoClient {
	t.Helper()
	c.env.RegisterImage(callbackImage, build(t, plugintest.CallbackPlugin))
	c.tlsSecret(t, name+"-tls", name)
	client, err := tether.Open(t.Context(), "kube://"+c.ns+"/"+name, tether.WithInterface("echo", 1),
		tether.WithStartTimeout(2*time.Minute), tether.WithLogger(slog.New(slog.DiscardHandler)),
		tether.WithTracing(host.Provider, nil),
		tether.WithCallbacks(func(r grpc.ServiceRegistrar) {
			echov1.RegisterEchoServer(r, plugintest.TaggedEcho{Tag: "host"})
		}),
		kube.WithKubeconfig(c.env.Kubeconfig()), kube.WithTLSFiles(c.hostCert, c.hostKey, c.cas),
		kube.WithDeploy(kube.Spec{Image: callbackImage, Port: 7000, TLSSecret: name + "-tls", Env: env}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	plugintest.Eventually(t, time.Minute, "the pod admitted", func() bool {
		for _, in := range client.Instances() {
			if in.Admitted {
				return true
			}
		}
		return false
	})
	echo, err := tether.Dispense(client, "echo", echov1.NewEchoClient)
	if err != nil {
		t.Fatal(err)
	}
	return echo
}

// relayTraced makes one call that the plugin answers with a callback.
func relayTraced(t *testing.T, echo echov1.EchoClient) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	resp, err := echo.Unary(ctx, &echov1.Message{Text: "traced"})
	if err != nil || resp.GetText() != "plugin:host:traced" {
		t.Fatalf("relayed call: %q, %v", resp.GetText(), err)
	}
}

// TestTracingKubePluginOneTrace is issue 18's tracing acceptance for a
// Kubernetes plugin: the callback plugin deployed in the cluster, given the
// standard OTEL_* variables in its Deployment's env (the test's collector
// on loopback, which the node agent's pods reach), exports its spans; a
// host that traces opens kube://NS/NAME and makes one call, which the
// plugin answers with a callback to the host. The host's and the pod's
// spans make one trace: host client → plugin server → plugin client → host
// server, each the parent of the next.
func TestTracingKubePluginOneTrace(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	rcv := otlptest.NewReceiver(t)
	env := map[string]string{"OTEL_SERVICE_NAME": "callback-kube", "TETHER_TRACING": "1"}
	for _, kv := range rcv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	host := otlptest.NewHost(t, "host")
	relayTraced(t, openTraced(t, c, "traced", host, env))
	hs := host.WaitSpans(t, 2, 5*time.Second)
	ps := rcv.WaitSpans(t, hs[0].TraceID, 2, 10*time.Second)
	chain := otlptest.CheckCallback(t, hs, ps, echoUnarySpan, "host", "callback-kube")
	t.Logf("trace:\n%s", otlptest.Tree(chain))
}

// TestTracingKubePluginWithoutExporter: a host that traces deploys the
// callback plugin with no OTEL_* variables and no TETHER_TRACING in its
// spec; the kube runtime sets TETHER_TRACING=1 in the pods, so the plugin
// passes the trace context on and the host's callback span is the child of
// its call's span.
func TestTracingKubePluginWithoutExporter(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	host := otlptest.NewHost(t, "host")
	relayTraced(t, openTraced(t, c, "untraced", host, nil))
	hs := host.WaitSpans(t, 2, 5*time.Second)
	otlptest.CheckChain(t, []otlptest.Span{otlptest.Find(t, hs, "client", "host", echoUnarySpan),
		otlptest.Find(t, hs, "server", "host", echoUnarySpan)})
}
