package kube

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/util/retry"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/plugintest"
)

// serverSemantics gives a fake clientset what the API server does and the
// fake does not: a UID and a resourceVersion for every object created, and
// a Conflict for an update or a delete whose resourceVersion (or
// preconditions) is not the stored one's. The reactors run under the fake's
// lock, so check and write are one step, as in the API server.
func serverSemantics(c *fake.Clientset) {
	rv := 0
	next := func() string { rv++; return strconv.Itoa(rv) }
	c.PrependReactor("create", "*", func(a k8stesting.Action) (bool, kruntime.Object, error) {
		if m, err := meta.Accessor(a.(k8stesting.CreateAction).GetObject()); err == nil {
			if m.GetUID() == "" {
				m.SetUID(types.UID("uid-" + next()))
			}
			m.SetResourceVersion(next())
		}
		return false, nil, nil
	})
	stored := func(a k8stesting.Action, name string) metav1.Object {
		cur, err := c.Tracker().Get(a.GetResource(), a.GetNamespace(), name)
		if err != nil {
			return nil
		}
		m, _ := meta.Accessor(cur)
		return m
	}
	conflict := func(a k8stesting.Action, name string) error {
		return apierrors.NewConflict(a.GetResource().GroupResource(), name, errors.New("the object has been modified"))
	}
	c.PrependReactor("update", "*", func(a k8stesting.Action) (bool, kruntime.Object, error) {
		m, err := meta.Accessor(a.(k8stesting.UpdateAction).GetObject())
		if err != nil {
			return false, nil, nil
		}
		if cur := stored(a, m.GetName()); cur != nil {
			if m.GetResourceVersion() != cur.GetResourceVersion() {
				return true, nil, conflict(a, m.GetName())
			}
			m.SetUID(cur.GetUID())
		}
		m.SetResourceVersion(next())
		return false, nil, nil
	})
	c.PrependReactor("delete", "*", func(a k8stesting.Action) (bool, kruntime.Object, error) {
		da := a.(k8stesting.DeleteAction)
		pre, cur := da.GetDeleteOptions().Preconditions, stored(a, da.GetName())
		if pre == nil || cur == nil {
			return false, nil, nil
		}
		if (pre.UID != nil && *pre.UID != cur.GetUID()) || (pre.ResourceVersion != nil && *pre.ResourceVersion != cur.GetResourceVersion()) {
			return true, nil, conflict(a, da.GetName())
		}
		return false, nil, nil
	})
}

// markAvailable plays the Deployment controller as markReady does, on a
// Deployment whose owners hosts update meanwhile.
func markAvailable(t *testing.T, c *fake.Clientset, name string) {
	deadline := time.Now().Add(5 * time.Second)
	err := retry.OnError(retry.DefaultBackoff, func(err error) bool {
		return time.Now().Before(deadline) && (apierrors.IsConflict(err) || apierrors.IsNotFound(err))
	}, func() error {
		d, err := c.AppsV1().Deployments(testNS).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			time.Sleep(20 * time.Millisecond)
			return err
		}
		n := desired(d)
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: n, UpdatedReplicas: n,
			ReadyReplicas: n, AvailableReplicas: n}
		_, err = c.AppsV1().Deployments(testNS).UpdateStatus(context.Background(), d, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Errorf("marking the Deployment available: %v", err)
	}
}

// leaseOwners are the names of the Leases that own the plugin's Deployment.
func leaseOwners(t *testing.T, c *fake.Clientset, name string) []string {
	t.Helper()
	d, err := c.AppsV1().Deployments(testNS).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, o := range d.OwnerReferences {
		if isLeaseOwner(o) {
			out = append(out, o.Name)
		}
	}
	return out
}

func leaseCount(t *testing.T, c *fake.Clientset) int {
	t.Helper()
	l, err := c.CoordinationV1().Leases(testNS).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return len(l.Items)
}

// Three hosts open one target with WithDeploy at once: all succeed on one
// Deployment that lists the three Leases; closing two leaves the plugin
// and the third's calls; closing the third removes it and every Lease.
func TestConcurrentDeploysShareOnePlugin(t *testing.T) {
	port := echoPlugin(t, "127.0.0.1", 0)
	c := fake.NewClientset()
	serverSemantics(c)
	spec := goodSpec()
	spec.TLSSecret, spec.Port = "", port
	go func() {
		markAvailable(t, c, "greeter")
		s := slice("greeter-1", "greeter", port, map[string]bool{"127.0.0.1": true})
		if _, err := c.DiscoveryV1().EndpointSlices(testNS).Create(context.Background(), s, metav1.CreateOptions{}); err != nil {
			t.Error(err)
		}
	}()
	clients := make([]*tether.Client, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			clients[i], errs[i] = tetherOpen("kube://plugins/greeter", WithClient(c), WithDeploy(spec), WithInsecure(),
				tether.WithInterface("echo", 1))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("host %d: %v", i, err)
		}
	}
	if owners := leaseOwners(t, c, "greeter"); len(owners) != 3 || leaseCount(t, c) != 3 {
		t.Fatalf("the Deployment's Lease owners are %v (%d Leases), want the 3 hosts'", owners, leaseCount(t, c))
	}
	for _, cl := range clients[:2] {
		if err := cl.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if owners := leaseOwners(t, c, "greeter"); len(owners) != 1 || leaseCount(t, c) != 1 {
		t.Fatalf("after 2 of 3 closed, the Lease owners are %v (%d Leases), want the third host's", owners, leaseCount(t, c))
	}
	echo, err := tether.Dispense(clients[2], "echo", echov1.NewEchoClient)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := echo.Unary(context.Background(), &echov1.Message{}); err != nil {
		t.Fatalf("the third host's call after the others closed: %v", err)
	}
	if err := clients[2].Close(); err != nil {
		t.Fatal(err)
	}
	assertNothingLeft(t, c)
	if n := leaseCount(t, c); n != 0 {
		t.Errorf("%d Leases left after the last host closed", n)
	}
}

// sharedDeployment creates the plugin's Deployment listing leases as
// owners, with an owner of another kind; its pods serve on port.
func sharedDeployment(t *testing.T, c *fake.Clientset, port int32, leases ...*coordinationv1.Lease) {
	t.Helper()
	spec := goodSpec()
	spec.Port = port
	d, _ := spec.objects(testNS, true)
	d.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "keep", UID: "cm-1"}}
	for _, l := range leases {
		d.OwnerReferences = append(d.OwnerReferences, leaseOwner(l))
	}
	if _, err := c.AppsV1().Deployments(testNS).Create(context.Background(), d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// otherLease creates another host's Lease on the plugin, last renewed ago.
func otherLease(t *testing.T, c *fake.Clientset, name string, ago time.Duration) *coordinationv1.Lease {
	t.Helper()
	at, secs := metav1.NewMicroTime(time.Now().Add(-ago)), int32(LeaseDuration/time.Second)
	l := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: managedLabels("greeter")},
		Spec: coordinationv1.LeaseSpec{RenewTime: &at, LeaseDurationSeconds: &secs}}
	l, err := c.CoordinationV1().Leases(testNS).Create(context.Background(), l, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// A host's release leaves the plugin when another host's Lease is live
// (and removes only its own owner reference), and removes the plugin when
// the other Leases have expired (a killed host's), unless an outliving host
// made it permanent meanwhile.
func TestReleaseLeavesPluginToLiveHosts(t *testing.T) {
	for _, tc := range []struct {
		name               string
		ago                time.Duration
		permanent, removed bool
	}{
		{"live", time.Second, false, false},
		{"expired", LeaseDuration + time.Second, false, true},
		{"made permanent", LeaseDuration + time.Second, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := fake.NewClientset()
			serverSemantics(c)
			ctx := context.Background()
			other := otherLease(t, c, "greeter-other", tc.ago)
			cl, err := newClaim(ctx, c, testNS, "greeter", quietLogger())
			if err != nil {
				t.Fatal(err)
			}
			sharedDeployment(t, c, 7000, other)
			if _, claimed, err := cl.join(ctx); err != nil || !claimed {
				t.Fatalf("join: claimed %v, %v", claimed, err)
			}
			if tc.permanent { // by an outliving host, after this one joined
				if _, err := makePermanent(ctx, c, testNS, "greeter"); err != nil {
					t.Fatal(err)
				}
			}
			if err := cl.release(ctx); err != nil {
				t.Fatal(err)
			}
			_, err = c.AppsV1().Deployments(testNS).Get(ctx, "greeter", metav1.GetOptions{})
			if removed := isNotFound(err); removed != tc.removed {
				t.Fatalf("Deployment removed: %v, want %v (%v)", removed, tc.removed, err)
			}
			if tc.removed {
				if n := leaseCount(t, c); n != 0 {
					t.Errorf("%d Leases left", n)
				}
				return
			}
			if tc.permanent {
				return
			}
			if owners := leaseOwners(t, c, "greeter"); fmt.Sprint(owners) != "[greeter-other]" {
				t.Errorf("Lease owners after release: %v, want only the live host's", owners)
			}
		})
	}
}

// Expired Leases of tether are deleted; live ones, and Leases that are not
// tether's, are left.
func TestSweepExpired(t *testing.T) {
	c := fake.NewClientset()
	serverSemantics(c)
	otherLease(t, c, "greeter-live", time.Second)
	otherLease(t, c, "greeter-dead", LeaseDuration+time.Second)
	old := metav1.NewMicroTime(time.Now().Add(-time.Hour))
	foreign := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "kube-scheduler"}, Spec: coordinationv1.LeaseSpec{RenewTime: &old}}
	if _, err := c.CoordinationV1().Leases(testNS).Create(context.Background(), foreign, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	n, err := sweepExpired(context.Background(), c, testNS, time.Now())
	if err != nil || n != 1 {
		t.Fatalf("sweep deleted %d (%v), want 1", n, err)
	}
	for name, want := range map[string]bool{"greeter-live": true, "greeter-dead": false, "kube-scheduler": true} {
		_, err := c.CoordinationV1().Leases(testNS).Get(context.Background(), name, metav1.GetOptions{})
		if (err == nil) != want {
			t.Errorf("Lease %s kept: %v, want %v", name, err == nil, want)
		}
	}
}

// An outliving host makes a shared plugin permanent (annotated, no Lease
// owner, other owners kept); a host with WithDeploy then attaches without
// a claim, and its Close deletes nothing.
func TestOutliveMakesSharedPluginPermanent(t *testing.T) {
	port := echoPlugin(t, "127.0.0.1", 0)
	c := fake.NewClientset()
	serverSemantics(c)
	sharedDeployment(t, c, port, otherLease(t, c, "greeter-other", time.Second))
	markAvailable(t, c, "greeter")
	s := slice("greeter-1", "greeter", port, map[string]bool{"127.0.0.1": true})
	if _, err := c.DiscoveryV1().EndpointSlices(testNS).Create(context.Background(), s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	out, err := tetherOpen("kube://plugins/greeter", WithClient(c), WithInsecure(), WithOutliveHost())
	if err != nil {
		t.Fatal(err)
	}
	d, err := c.AppsV1().Deployments(testNS).Get(context.Background(), "greeter", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Annotations[AnnotationOutlive] != "true" || len(d.OwnerReferences) != 1 || d.OwnerReferences[0].Kind != "ConfigMap" {
		t.Fatalf("after an outliving host attached: annotations %v, owners %v; want %s and only the ConfigMap owner",
			d.Annotations, d.OwnerReferences, AnnotationOutlive)
	}
	spec := goodSpec()
	spec.TLSSecret, spec.Port = "", port
	host, err := tetherOpen("kube://plugins/greeter", WithClient(c), WithInsecure(), WithDeploy(spec))
	if err != nil {
		t.Fatal(err)
	}
	if owners := leaseOwners(t, c, "greeter"); len(owners) != 0 || leaseCount(t, c) != 1 {
		t.Errorf("a host attached to a permanent plugin: Lease owners %v, %d Leases; want none and only the other's", owners, leaseCount(t, c))
	}
	for _, cl := range []*tether.Client{host, out} {
		if err := cl.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.AppsV1().Deployments(testNS).Get(context.Background(), "greeter", metav1.GetOptions{}); err != nil {
		t.Errorf("the permanent plugin is gone: %v", err)
	}
}

// A host in a pod of the plugin's namespace ($POD_NAME, $POD_UID) has its
// Lease owned by its pod; in another namespace, not (owner references
// cross no namespace).
func TestLeaseOwnedByHostPod(t *testing.T) {
	t.Setenv(EnvPodName, "host-1")
	t.Setenv(EnvPodUID, "pod-uid-1")
	for _, tc := range []struct {
		podNS string
		owned bool
	}{{testNS, true}, {"elsewhere", false}} {
		t.Setenv(EnvPodNamespace, tc.podNS)
		c := fake.NewClientset()
		cl, err := newClaim(context.Background(), c, testNS, "greeter", quietLogger())
		if err != nil {
			t.Fatal(err)
		}
		refs := cl.lease.OwnerReferences
		owned := len(refs) == 1 && refs[0].Kind == "Pod" && refs[0].Name == "host-1" && refs[0].UID == "pod-uid-1"
		if owned != tc.owned {
			t.Errorf("host pod in %s: Lease owners %v, want owned by the pod: %v", tc.podNS, refs, tc.owned)
		}
		cl.stopRenewing()
	}
}

// Renewal moves the Lease's renewTime, also when someone else changed the
// Lease; a Lease deleted meanwhile (found expired by another host) is
// taken anew and listed again among the owners of the plugin.
func TestRenewTakesDeletedLeaseAnew(t *testing.T) {
	c := fake.NewClientset()
	serverSemantics(c)
	ctx := context.Background()
	cl, err := newClaim(ctx, c, testNS, "greeter", quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.stopRenewing()
	sharedDeployment(t, c, 7000, cl.lease)
	cl.created()
	first := *cl.lease.Spec.RenewTime
	changed := cl.lease.DeepCopy()
	changed.Annotations = map[string]string{"touched": "yes"}
	if _, err := c.CoordinationV1().Leases(testNS).Update(ctx, changed, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond) // a later renewTime
	if err := cl.renewOnce(ctx); err != nil {
		t.Fatalf("renewal of a Lease changed by someone else: %v", err)
	}
	l, err := c.CoordinationV1().Leases(testNS).Get(ctx, cl.lease.Name, metav1.GetOptions{})
	if err != nil || !l.Spec.RenewTime.After(first.Time) {
		t.Fatalf("after renewal: %v, renewTime %v, want after %v", err, l.Spec.RenewTime, first)
	}
	old := cl.lease.Name
	if err := c.CoordinationV1().Leases(testNS).Delete(ctx, old, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cl.renewOnce(ctx); err != nil {
		t.Fatalf("renewal of a deleted Lease: %v", err)
	}
	owners := leaseOwners(t, c, "greeter")
	if cl.lease.Name == old || !slices.Contains(owners, cl.lease.Name) {
		t.Errorf("after its Lease was deleted: Lease %s, owners %v; want a new Lease among the owners", cl.lease.Name, owners)
	}
}

// A host that finds the Deployment being deleted (its last host is
// closing) waits until it is gone, then deploys it anew, owned by its
// Lease.
func TestAttachToDeletedPluginDeploysAnew(t *testing.T) {
	port := echoPlugin(t, "127.0.0.1", 0)
	c := fake.NewClientset()
	serverSemantics(c)
	spec := goodSpec()
	spec.TLSSecret, spec.Port = "", port
	d, _ := spec.objects(testNS, true)
	now := metav1.Now()
	d.DeletionTimestamp = &now
	if _, err := c.AppsV1().Deployments(testNS).Create(context.Background(), d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(300 * time.Millisecond) // the garbage collector's work
		if err := c.AppsV1().Deployments(testNS).Delete(context.Background(), "greeter", metav1.DeleteOptions{}); err != nil {
			t.Error(err)
		}
		plugintest.Eventually(t, 5*time.Second, "the new Deployment", func() bool {
			d, err := c.AppsV1().Deployments(testNS).Get(context.Background(), "greeter", metav1.GetOptions{})
			return err == nil && d.DeletionTimestamp == nil
		})
		markAvailable(t, c, "greeter")
		s := slice("greeter-1", "greeter", port, map[string]bool{"127.0.0.1": true})
		if _, err := c.DiscoveryV1().EndpointSlices(testNS).Create(context.Background(), s, metav1.CreateOptions{}); err != nil {
			t.Error(err)
		}
	}()
	client, err := tetherOpen("kube://plugins/greeter", WithClient(c), WithDeploy(spec), WithInsecure())
	if err != nil {
		t.Fatalf("Open of a plugin being deleted: %v", err)
	}
	defer client.Close()
	if owners := leaseOwners(t, c, "greeter"); len(owners) != 1 {
		t.Errorf("the new Deployment's Lease owners: %v, want the host's", owners)
	}
}
