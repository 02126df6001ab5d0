package kubecluster

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tetherplug/tether"
	greeterv1 "github.com/tetherplug/tether/examples/greeter/greeterpb/v1"
	"github.com/tetherplug/tether/internal/plugintest"
	"github.com/tetherplug/tether/kube"
)

// TestUpgradeUnderLoad is issue 16's upgrade acceptance: `tether kube
// deploy` of a deployed plugin with a new image rolls it out while 4
// callers call it, and no call fails; a deploy with an image that does not
// exist leaves the rollout stuck (the deploy fails saying why), and a new
// Open still succeeds on the old pods.
func TestUpgradeUnderLoad(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	frImage := "tether.test/greeter-fr:v1"
	c.env.RegisterImage(frImage, build(t, "github.com/tetherplug/tether/examples/greeter/plugins/greeter-fr"))
	c.tlsSecret(t, "up-tls", "up")
	deploy := func(image, timeout string) (string, error) {
		return c.tether(t, "kube", "deploy", "up", "-n", c.ns, "--image", image, "--port", "7000",
			"--replicas", "3", "--tls-secret", "up-tls", "--timeout", timeout)
	}
	if out, err := deploy(greeterImage, "2m"); err != nil {
		t.Fatalf("kube deploy: %v\n%s", err, out)
	}
	opts := []tether.Option{tether.WithInterface("greeter", 1), tether.WithStartTimeout(time.Minute),
		tether.WithLogger(slog.New(slog.DiscardHandler)), kube.WithKubeconfig(c.env.Kubeconfig()),
		kube.WithTLSFiles(c.hostCert, c.hostKey, c.cas)}
	client, _, err := openWithin(t, 2*time.Minute, "kube://"+c.ns+"/up", opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	greeter, err := tether.Dispense(client, "greeter", greeterv1.NewGreeterClient)
	if err != nil {
		t.Fatal(err)
	}

	var calls, failed, french atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				r, err := greeter.Greet(ctx, &greeterv1.GreetRequest{Name: "up"})
				cancel()
				calls.Add(1)
				switch {
				case err != nil:
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				case strings.HasPrefix(r.GetMessage(), "Bonjour"):
					french.Add(1)
				}
			}
		}()
	}
	stopCallers := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopCallers()

	start := time.Now()
	if out, err := deploy(frImage, "2m"); err != nil {
		t.Fatalf("kube deploy of the new image: %v\n%s", err, out)
	}
	t.Logf("rollout of 3 replicas took %v", time.Since(start))
	plugintest.Eventually(t, time.Minute, "calls answered by the new image", func() bool { return french.Load() > 0 })
	stopCallers()
	t.Logf("%d calls during the rollout, %d failed, %d answered in French", calls.Load(), failed.Load(), french.Load())
	if failed.Load() > 0 {
		t.Errorf("%d of %d calls failed during the rolling update; first: %v", failed.Load(), calls.Load(), firstErr.Load())
	}

	out, err := deploy("tether.test/no-such-image:v1", "15s")
	if err == nil || !strings.Contains(out, kube.ReasonImage) {
		t.Errorf("deploy of a missing image: %v, want it to fail saying %q:\n%s", err, kube.ReasonImage, out)
	}
	again, took, err := openWithin(t, 2*time.Minute, "kube://"+c.ns+"/up", opts...)
	if err != nil {
		t.Fatalf("Open during a stuck rollout took %v: %v", took, err)
	}
	defer again.Close()
	g2, err := tether.Dispense(again, "greeter", greeterv1.NewGreeterClient)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := g2.Greet(t.Context(), &greeterv1.GreetRequest{Name: "stuck"}); err != nil || !strings.HasPrefix(r.GetMessage(), "Bonjour") {
		t.Errorf("a call during the stuck rollout: %q, %v; want the old pods' French; pods:\n%s", r.GetMessage(), err, c.pods(t))
	}
}

// pods says, one line each, the namespace's pods: name, image, phase,
// readiness and whether they are being deleted.
func (c *cluster) pods(t *testing.T) string {
	t.Helper()
	pods, err := c.client.CoreV1().Pods(c.ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, p := range pods.Items {
		ready := false
		for _, cond := range p.Status.Conditions {
			ready = ready || cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue
		}
		fmt.Fprintf(&b, "  %s %s %s ready=%v deleting=%v ip=%s\n", p.Name, p.Spec.Containers[0].Image, p.Status.Phase,
			ready, p.DeletionTimestamp != nil, p.Status.PodIP)
	}
	return b.String()
}
