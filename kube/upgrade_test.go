package kube

import (
	"context"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// An attach needs a ready endpoint, not a finished rollout: while a
// rollout is stuck (1 of 3 replicas runs the new spec and is not ready),
// the 3 old pods still serve and Open succeeds on them.
func TestAttachDuringStuckRollout(t *testing.T) {
	port := echoPlugin(t, "127.0.0.1", 0)
	spec := goodSpec()
	spec.TLSSecret, spec.Port, spec.Replicas = "", port, new(int32(3))
	d, svc := spec.objects(testNS, true)
	d.Generation = 2
	d.Status.ObservedGeneration, d.Status.Replicas, d.Status.ReadyReplicas = 2, 4, 3
	d.Status.UpdatedReplicas, d.Status.AvailableReplicas = 1, 3
	c := fake.NewClientset(d, svc)
	s := slice("greeter-1", "greeter", port, map[string]bool{"127.0.0.1": true})
	if _, err := c.DiscoveryV1().EndpointSlices(testNS).Create(context.Background(), s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	client, err := tetherOpen("kube://plugins/greeter", WithClient(c), WithInsecure())
	if err != nil {
		t.Fatalf("attach during a stuck rollout: %v", err)
	}
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}
}

// An upgrade of a plugin a host created drops what the new spec no longer
// has: the create's fields are handed to the apply's field manager first,
// or the variable would stay, owned by the create. The Deployment's owner
// references (the hosts' Leases) stay.
func TestUpgradeDropsRemovedFields(t *testing.T) {
	c := fake.NewClientset(tlsSecret("greeter-tls"))
	spec := goodSpec()
	lease := metav1.OwnerReference{APIVersion: leaseAPIVersion, Kind: leaseKind, Name: "greeter-host1", UID: "lease-uid-1"}
	if _, _, err := deploy(context.Background(), c, testNS, &spec, DeployOptions{createOnly: true,
		owners: []metav1.OwnerReference{lease}}); err != nil {
		t.Fatal(err)
	}
	spec.Env = nil
	if _, created, err := deploy(context.Background(), c, testNS, &spec, DeployOptions{}); err != nil || created {
		t.Fatalf("upgrade: created %v, %v", created, err)
	}
	got, err := c.AppsV1().Deployments(testNS).Get(context.Background(), "greeter", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range got.Spec.Template.Spec.Containers[0].Env {
		if e.Name == "GREETING" {
			t.Errorf("GREETING=%s is still set after a deploy without it", e.Value)
		}
	}
	if len(got.OwnerReferences) != 1 || got.OwnerReferences[0].UID != lease.UID {
		t.Errorf("owner references %v after the upgrade, want the host's Lease", got.OwnerReferences)
	}
}

// A rollout is not done while a replica of the old revision is left, even
// when every desired replica runs the new one: the old pod, pending
// termination, may still take calls (kubectl rollout status waits too).
func TestRolloutWaitsForOldReplicas(t *testing.T) {
	spec := goodSpec()
	d, _ := spec.objects(testNS, false)
	d.Generation = 2
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 3, UpdatedReplicas: 2, ReadyReplicas: 3, AvailableReplicas: 3}
	if ready(d) {
		t.Error("a Deployment with 2 updated and 1 old replica counts as rolled out")
	}
	d.Status.Replicas, d.Status.UpdatedReplicas = 2, 2
	if !ready(d) {
		t.Error("a Deployment whose 2 replicas all run the new revision does not count as rolled out")
	}
}
