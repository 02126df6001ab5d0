package kube

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/plugintest"
)

func tetherOpen(target string, opts ...tether.Option) (*tether.Client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	opts = append([]tether.Option{tether.WithLogger(quietLogger()), tether.WithStartTimeout(5 * time.Second)}, opts...)
	return tether.Open(ctx, target, opts...)
}

func isBadTarget(err error) bool { return errors.Is(err, tether.ErrBadTarget) }

// A kube target deploys its spec, waits for the replicas, takes the ready
// pods of the Service's slices as its instances (calls reach each), follows
// a pod's going, and Kill removes all it created.
func TestOpenDeploysFollowsAndRemoves(t *testing.T) {
	port := echoPlugin(t, "127.0.0.1", 0)
	echoPlugin(t, "127.0.0.2", port)
	c := fake.NewClientset()
	spec := goodSpec()
	spec.TLSSecret, spec.Port = "", port
	ready := make(chan struct{})
	go func() {
		defer close(ready)
		markReady(t, c, "greeter")
		s := slice("greeter-1", "greeter", port, map[string]bool{"127.0.0.1": true, "127.0.0.2": true, "127.0.0.3": false})
		if _, err := c.DiscoveryV1().EndpointSlices(testNS).Create(context.Background(), s, metav1.CreateOptions{}); err != nil {
			t.Error(err)
		}
	}()
	client, err := tetherOpen("kube://plugins/greeter", WithClient(c), WithDeploy(spec), WithInsecure(),
		tether.WithInterface("echo", 1))
	<-ready
	if err != nil {
		t.Fatal(err)
	}
	echo, err := tether.Dispense(client, "echo", echov1.NewEchoClient)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	deadline := time.Now().Add(5 * time.Second)
	for len(seen) < 2 && time.Now().Before(deadline) {
		if m, err := echo.Unary(context.Background(), &echov1.Message{}); err == nil {
			seen[strings.TrimSuffix(m.Text, ":")] = true
		}
	}
	if !seen["127.0.0.1"] || !seen["127.0.0.2"] {
		t.Fatalf("calls reached %v, want both ready pods", seen)
	}
	// One pod goes: calls go to the other only.
	s := slice("greeter-1", "greeter", port, map[string]bool{"127.0.0.1": true, "127.0.0.2": false})
	if _, err := c.DiscoveryV1().EndpointSlices(testNS).Update(context.Background(), s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	plugintest.Eventually(t, 5*time.Second, "one instance left", func() bool { return len(client.Instances()) == 1 })
	for range 20 {
		m, err := echo.Unary(context.Background(), &echov1.Message{})
		if err != nil || m.Text != "127.0.0.1:" {
			t.Fatalf("after the pod left: %v %v", m, err)
		}
	}
	kctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := client.Kill(kctx); err != nil {
		t.Fatal(err)
	}
	assertNothingLeft(t, c)
}

func assertNothingLeft(t *testing.T, c *fake.Clientset) {
	t.Helper()
	ctx, sel := context.Background(), metav1.ListOptions{LabelSelector: ManagedSelector("")}
	deps, _ := c.AppsV1().Deployments(testNS).List(ctx, sel)
	svcs, _ := c.CoreV1().Services(testNS).List(ctx, sel)
	if len(deps.Items)+len(svcs.Items) != 0 {
		t.Errorf("left %d Deployments and %d Services with tether's labels", len(deps.Items), len(svcs.Items))
	}
}

// With WithOutliveHost the objects stay; a second Open without a spec attaches
// to them, and its Kill leaves them too.
func TestOutliveAndAttach(t *testing.T) {
	port := echoPlugin(t, "127.0.0.1", 0)
	c := fake.NewClientset()
	spec := goodSpec()
	spec.TLSSecret, spec.Port = "", port
	go func() {
		markReady(t, c, "greeter")
		s := slice("greeter-1", "greeter", port, map[string]bool{"127.0.0.1": true})
		_, _ = c.DiscoveryV1().EndpointSlices(testNS).Create(context.Background(), s, metav1.CreateOptions{})
	}()
	first, err := tetherOpen("kube://plugins/greeter", WithClient(c), WithDeploy(spec), WithInsecure(), WithOutliveHost())
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := tetherOpen("kube://plugins/greeter", WithClient(c), WithInsecure())
	if err != nil {
		t.Fatalf("attach: %v", err)
	}
	if err := again.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AppsV1().Deployments(testNS).Get(context.Background(), "greeter", metav1.GetOptions{}); err != nil {
		t.Errorf("the outliving Deployment is gone: %v", err)
	}
	for _, a := range c.Actions() {
		if a.GetVerb() == "delete" {
			t.Errorf("unexpected %s %s", a.GetVerb(), a.GetResource().Resource)
		}
	}
}

// A target without a Deployment or a spec, a foreign Deployment, or no
// TLS option: errors that say so.
func TestOpenRefusals(t *testing.T) {
	c := fake.NewClientset()
	foreign := goodSpec()
	d, _ := foreign.objects(testNS, false)
	d.Labels = map[string]string{"app": "greeter"}
	if _, err := c.AppsV1().Deployments(testNS).Create(context.Background(), d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		target string
		opts   []tether.Option
		want   string
	}{
		{"kube://plugins/absent", []tether.Option{WithInsecure()}, "no kube.WithDeploy spec"},
		{"kube://plugins/greeter", []tether.Option{WithInsecure()}, "not managed by tether"},
		{"kube://plugins/greeter", nil, "requires TLS"},
		{"kube://plugins/absent", []tether.Option{WithInsecure(), WithDeploy(Spec{Name: "other"})}, "spec.name"},
	} {
		_, err := tetherOpen(tc.target, append(tc.opts, WithClient(c))...)
		if !isBadTarget(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: want ErrBadTarget saying %q, got %v", tc.target, tc.want, err)
		}
	}
}

// Replicas that never become ready: Open fails within the ready timeout
// with the reason, and removes what it created.
func TestNotReadyFailsWithReasonAndCleansUp(t *testing.T) {
	c := fake.NewClientset()
	spec := goodSpec()
	spec.TLSSecret = ""
	start := time.Now()
	_, err := tetherOpen("kube://plugins/greeter", WithClient(c), WithDeploy(spec), WithInsecure(),
		WithReadyTimeout(500*time.Millisecond))
	var nr *NotReadyError
	if !errors.Is(err, tether.ErrStartTimeout) || !errors.As(err, &nr) {
		t.Fatalf("want ErrStartTimeout with a *NotReadyError, got %v", err)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("took %v with a 500ms ready timeout", d)
	}
	if !strings.Contains(err.Error(), "0 of 2 replicas ready") {
		t.Errorf("message %q", err)
	}
	assertNothingLeft(t, c)
	if !slices.ContainsFunc(c.Actions(), func(a k8stesting.Action) bool { return a.GetVerb() == "delete" }) {
		t.Error("nothing was deleted")
	}
}
