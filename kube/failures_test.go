package kube

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/tetherplug/tether"
)

// openWithin runs tetherOpen and fails the test if it has not returned
// within d (the code before bounded waits never returned).
func openWithin(t *testing.T, d time.Duration, target string, opts ...tether.Option) (*tether.Client, time.Duration, error) {
	t.Helper()
	type result struct {
		c   *tether.Client
		err error
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		c, err := tetherOpen(target, opts...)
		done <- result{c, err}
	}()
	select {
	case r := <-done:
		return r.c, time.Since(start), r.err
	case <-time.After(d):
		t.Fatalf("Open of %s has not returned after %v", target, d)
		return nil, 0, nil
	}
}

var forbiddenSlices = apierrors.NewForbidden(schema.GroupResource{Group: "discovery.k8s.io", Resource: "endpointslices"}, "",
	errors.New(`user "system:serviceaccount:plugins:host" cannot list resource "endpointslices"`))

// An account that may not list EndpointSlices: Open returns at once with
// ErrHost naming the verb and resource, and removes what it deployed.
func TestSlicesListForbiddenEndsOpen(t *testing.T) {
	c := fake.NewClientset()
	c.PrependReactor("list", "endpointslices", func(k8stesting.Action) (bool, kruntime.Object, error) {
		return true, nil, forbiddenSlices
	})
	spec := goodSpec()
	spec.TLSSecret = ""
	marked := make(chan struct{})
	go func() {
		defer close(marked)
		markReady(t, c, "greeter")
	}()
	_, took, err := openWithin(t, 20*time.Second, "kube://plugins/greeter", WithClient(c), WithDeploy(spec), WithInsecure())
	<-marked
	var ae *APIError
	if !errors.Is(err, tether.ErrHost) || !errors.As(err, &ae) || ae.Verb != "list" || ae.Resource != "endpointslices.discovery.k8s.io" {
		t.Fatalf("Open: %v, want ErrHost with an *APIError on list endpointslices.discovery.k8s.io", err)
	}
	if want := "may not list endpointslices.discovery.k8s.io in namespace plugins"; !strings.Contains(err.Error(), want) {
		t.Errorf("message %q does not say %q", err, want)
	}
	if took > 4*time.Second {
		t.Errorf("took %v, want about no time (the start timeout is 5s)", took)
	}
	assertNothingLeft(t, c)
}

// An account that may list but not watch EndpointSlices: Open names watch.
func TestSlicesWatchForbiddenEndsOpen(t *testing.T) {
	c := deployed(t, 7000)
	c.PrependWatchReactor("endpointslices", func(k8stesting.Action) (bool, watch.Interface, error) {
		return true, nil, forbiddenSlices
	})
	_, _, err := openWithin(t, 20*time.Second, "kube://plugins/greeter", WithClient(c), WithInsecure())
	var ae *APIError
	if !errors.Is(err, tether.ErrHost) || !errors.As(err, &ae) || ae.Verb != "watch" {
		t.Fatalf("Open: %v, want ErrHost with an *APIError on watch", err)
	}
	if want := "may not watch endpointslices.discovery.k8s.io in namespace plugins"; !strings.Contains(err.Error(), want) {
		t.Errorf("message %q does not say %q", err, want)
	}
}

// A plugin scaled to 0: Open fails at once, saying the Service has no
// ready endpoints, not after its start timeout.
func TestScaledToZeroFailsAtOnce(t *testing.T) {
	c := deployed(t, 7000)
	if err := c.DiscoveryV1().EndpointSlices(testNS).Delete(context.Background(), "greeter-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	d, err := c.AppsV1().Deployments(testNS).Get(context.Background(), "greeter", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	zero := int32(0)
	d.Spec.Replicas = &zero
	if _, err := c.AppsV1().Deployments(testNS).Update(context.Background(), d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, took, err := openWithin(t, 20*time.Second, "kube://plugins/greeter", WithClient(c), WithInsecure())
	var ne *NoEndpointsError
	if !errors.Is(err, tether.ErrUnavailable) || !errors.As(err, &ne) {
		t.Fatalf("Open: %v, want ErrUnavailable with a *NoEndpointsError", err)
	}
	if want := "the Service greeter in namespace plugins has no ready endpoints: its Deployment is scaled to 0 replicas"; !strings.Contains(err.Error(), want) {
		t.Errorf("message %q does not say %q", err, want)
	}
	if took > 2*time.Second {
		t.Errorf("took %v, want no wait (the start timeout is 5s)", took)
	}
}

// A Deployment of that name that is not tether's is the target's problem,
// said as such, and deploy leaves it alone.
func TestForeignDeploymentIsBadTarget(t *testing.T) {
	c := fake.NewClientset(tlsSecret("greeter-tls"))
	spec := goodSpec()
	d, _ := spec.objects(testNS, false)
	d.Labels = map[string]string{"app": "greeter"}
	if _, err := c.AppsV1().Deployments(testNS).Create(context.Background(), d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, _, err := deploy(context.Background(), c, testNS, &spec, DeployOptions{})
	if !errors.Is(err, tether.ErrBadTarget) || errors.Is(err, tether.ErrUnavailable) || fieldOf(t, err) != "spec.name" {
		t.Fatalf("deploy over a foreign Deployment: %v, want ErrBadTarget naming spec.name", err)
	}
	if want := "Deployment plugins/greeter exists and is not tether's"; !strings.Contains(err.Error(), want) {
		t.Errorf("message %q does not say %q", err, want)
	}
	got, _ := c.AppsV1().Deployments(testNS).Get(context.Background(), "greeter", metav1.GetOptions{})
	if got.Spec.Template.Spec.Containers[0].Image != spec.Image || got.Labels[LabelManagedBy] != "" {
		t.Errorf("deploy changed the foreign Deployment: %v", got.Labels)
	}
	if n := len(actionsOf(c, "patch")); n != 0 {
		t.Errorf("%d patches of a foreign plugin", n)
	}
}

// During a rollout that does not finish, the old replicas are ready: the
// error must not say "3 of 3 replicas ready" of a plugin that is not.
func TestNotReadySaysWhatIsTrue(t *testing.T) {
	spec := goodSpec()
	spec.Replicas = new(int32(3))
	d, _ := spec.objects(testNS, false)
	d.Generation = 2
	d.Status.ObservedGeneration, d.Status.ReadyReplicas, d.Status.UpdatedReplicas, d.Status.AvailableReplicas = 2, 3, 1, 3
	if ready(d) {
		t.Fatal("a Deployment with 1 of 3 replicas updated counts as ready")
	}
	msg := diagnose(context.Background(), fake.NewClientset(), d).Error()
	if strings.Contains(msg, "3 of 3 replicas ready") || !strings.Contains(msg, "only 1 of 3 replicas run the current spec (the rollout has not finished; 3 replicas of any spec ready)") {
		t.Errorf("message %q, want it to say only 1 of 3 replicas run the current spec", msg)
	}
	d.Status.ObservedGeneration = 1
	if msg := diagnose(context.Background(), fake.NewClientset(), d).Error(); !strings.Contains(msg, "has not yet acted on the current spec") {
		t.Errorf("message %q, want it to say the controller has not acted on the spec", msg)
	}
}

// unroutableIPv6 is a documentation address (RFC 3849): a dial to it finds
// no route on a machine without a route to it; the test skips elsewhere.
const unroutableIPv6 = "2001:db8::1"

// Ready pods whose IPs the host cannot reach: Open says so within
// PodDialTimeout rather than at its start timeout.
func TestUnreachablePodIPs(t *testing.T) {
	if conn, err := net.DialTimeout("tcp", net.JoinHostPort(unroutableIPv6, "7000"), PodDialTimeout); err == nil || !unroutable(err) {
		if conn != nil {
			conn.Close()
		}
		t.Skipf("a dial to %s does not fail with no route or a timeout here: %v", unroutableIPv6, err)
	}
	c := deployed(t, 7000)
	s := slice("greeter-1", "greeter", 7000, map[string]bool{unroutableIPv6: true})
	s.AddressType = discoveryv1.AddressTypeIPv6
	if _, err := c.DiscoveryV1().EndpointSlices(testNS).Update(context.Background(), s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, took, err := openWithin(t, 30*time.Second, "kube://plugins/greeter", WithClient(c), WithInsecure(), tether.WithStartTimeout(20*time.Second))
	var ue *UnreachableError
	if !errors.Is(err, tether.ErrHost) || !errors.As(err, &ue) {
		t.Fatalf("Open: %v, want ErrHost with an *UnreachableError", err)
	}
	if want := "pod IPs are not reachable from here"; !strings.Contains(err.Error(), want) {
		t.Errorf("message %q does not say %q", err, want)
	}
	if took > PodDialTimeout+2*time.Second {
		t.Errorf("took %v, want at most about PodDialTimeout (%v)", took, PodDialTimeout)
	}
}

// Each API failure has its kind and says what is true, as
// docs/kubernetes.md quotes.
func TestAPIFailureKinds(t *testing.T) {
	gr := schema.GroupResource{Group: "apps", Resource: "deployments"}
	for _, tc := range []struct {
		err  error
		kind error
		says string
	}{
		{apierrors.NewUnauthorized("token expired"), tether.ErrHost,
			`cannot create deployments.apps "greeter" in namespace plugins: the API server does not accept the credentials`},
		{apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, "plugins"), tether.ErrBadTarget,
			`cannot create deployments.apps "greeter" in namespace plugins: not found`},
		{apierrors.NewInvalid(schema.GroupKind{Group: "apps", Kind: "Deployment"}, "greeter", nil), tether.ErrBadTarget,
			`cannot create deployments.apps "greeter" in namespace plugins: the API server refused it as invalid`},
		{apierrors.NewAlreadyExists(gr, "greeter"), tether.ErrBadTarget,
			`cannot create deployments.apps "greeter" in namespace plugins: it already exists`},
		{&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, tether.ErrHost,
			`cannot create deployments.apps "greeter" in namespace plugins: the API server did not answer`},
	} {
		err := apiFailure("greeter", "create", "deployments.apps", "greeter", testNS, tc.err)
		if !errors.Is(err, tc.kind) || errors.Is(err, tether.ErrUnavailable) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%v: got %v, want %v saying %q", tc.err, err, tc.kind, tc.says)
		}
	}
}

// A list of the slices that does not answer within the start timeout ends
// Open at the start timeout, naming the request.
func TestSlicesListSlowEndsAtStartTimeout(t *testing.T) {
	c := deployed(t, 7000)
	c.PrependReactor("list", "endpointslices", func(k8stesting.Action) (bool, kruntime.Object, error) {
		time.Sleep(1500 * time.Millisecond) // the fake client ignores contexts
		return true, nil, apierrors.NewServiceUnavailable("etcd is down")
	})
	_, took, err := openWithin(t, 20*time.Second, "kube://plugins/greeter", WithClient(c), WithInsecure(),
		tether.WithStartTimeout(time.Second))
	var ae *APIError
	if !errors.Is(err, tether.ErrStartTimeout) || !errors.As(err, &ae) || ae.Resource != "endpointslices.discovery.k8s.io" {
		t.Fatalf("Open: %v, want ErrStartTimeout with an *APIError on endpointslices", err)
	}
	if want := "the Service's EndpointSlices were not listed in time"; !strings.Contains(err.Error(), want) {
		t.Errorf("message %q does not say %q", err, want)
	}
	if took > 5*time.Second {
		t.Errorf("took %v with a 1s start timeout", took)
	}
}
