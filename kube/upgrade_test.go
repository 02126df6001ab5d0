package kube

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// An attach needs a ready endpoint, not a finished rollout: while a
// rollout is stuck (1 of 3 replicas runs the new spec and is not ready),
// the 3 old pods still serve and Open succeeds on them.
func TestAttachDuringStuckRollout(t *testing.T) {
	port := echoPlugin(t, "127.0.0.1", 0)
	spec := goodSpec()
	spec.TLSSecret, spec.Port, spec.Replicas = "", port, 3
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
