package metrics_test

import (
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/plugintest"
	"github.com/tetherplug/tether/internal/plugintest/inproc"
	"github.com/tetherplug/tether/metrics"
)

// podsRuntime stands in for the Kubernetes runtime (which needs a
// cluster): under the kube scheme it reports fixed endpoints, one per
// "pod", each an echo plugin served in the test's process.
type podsRuntime struct{ eps []tether.Endpoint }

func (podsRuntime) Scheme() string { return "kube" }

func (r podsRuntime) Build(_ context.Context, _ tether.Target, env tether.RuntimeEnv) (tether.Runtime, error) {
	env.Endpoints.UpdateEndpoints(r.eps)
	return r, nil
}

func (podsRuntime) Close(context.Context, func(context.Context, tether.Endpoint) error) error {
	return nil
}

// TestReadyPods: a Kubernetes plugin reports how many of its pods take
// calls.
func TestReadyPods(t *testing.T) {
	t.Parallel()
	var rt podsRuntime
	for range 3 {
		lis, err := net.Listen("unix", filepath.Join(t.TempDir(), "pod.sock"))
		if err != nil {
			t.Fatal(err)
		}
		inproc.ServeEcho(t, lis, plugintest.EchoServer{})
		rt.eps = append(rt.eps, tether.Endpoint{Network: "unix", Address: lis.Addr().String(), Replaceable: true})
	}
	m := metrics.New()
	s := newScraper(t, m)
	c, err := tether.Open(t.Context(), "kube://default/echo", m.Option(), tether.WithRuntime(rt), tether.WithName("echo-kube"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var f families
	eventually(t, 10*time.Second, "not every pod was admitted", func() bool {
		f = s.scrape()
		v, _ := f.value(metrics.Instances, labels{"plugin": "echo-kube", "state": "admitted"})
		return v == 3
	})
	f.want(t, metrics.ReadyPods, labels{"plugin": "echo-kube"}, 3)
	f.want(t, metrics.PluginUp, labels{"plugin": "echo-kube"}, 1)
}
