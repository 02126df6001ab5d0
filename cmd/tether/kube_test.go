package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/tetherplug/tether/kube"
)

// runKube runs "tether kube ARGS" against c.
func runKube(t *testing.T, c kubernetes.Interface, args ...string) (string, error) {
	t.Helper()
	old := newKubeClient
	newKubeClient = func(string, string) (kubernetes.Interface, error) { return c, nil }
	t.Cleanup(func() { newKubeClient = old })
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append([]string{"kube"}, args...))
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

// deploy with a spec that fails validation names the field and creates
// nothing.
func TestKubeDeployValidation(t *testing.T) {
	c := fake.NewClientset()
	_, err := runKube(t, c, "deploy", "greeter", "-n", "plugins", "--image", "g:1", "--insecure")
	if err == nil || !strings.Contains(err.Error(), "spec.port") {
		t.Fatalf("want an error naming spec.port, got %v", err)
	}
	_, err = runKube(t, c, "deploy", "greeter", "-n", "plugins", "--image", "g:1", "--port", "7000", "--tls-secret", "absent")
	if err == nil || !strings.Contains(err.Error(), "spec.tlsSecret") {
		t.Fatalf("want an error naming spec.tlsSecret, got %v", err)
	}
	for _, a := range c.Actions() {
		if a.GetVerb() == "create" {
			t.Errorf("created %s", a.GetResource().Resource)
		}
	}
	if _, err := runKube(t, c, "deploy", "greeter", "--env", "NOEQUALS"); err == nil || !strings.Contains(err.Error(), "--env") {
		t.Errorf("want an error naming --env, got %v", err)
	}
}

// ls lists tether's Deployments with replicas and image; rm removes them.
func TestKubeLsAndRm(t *testing.T) {
	c := fake.NewClientset()
	ctx := context.Background()
	if err := kube.Deploy(ctx, c, "plugins", kube.Spec{Name: "greeter", Image: "g:1", Port: 7000, Replicas: new(int32(3))},
		kube.DeployOptions{Insecure: true, ReadyTimeout: 1}); err == nil {
		t.Fatal("a fake cluster made replicas ready")
	}
	// Deploy removed what it made when not ready; make it again, ready.
	spec := kube.Spec{Name: "greeter", Image: "g:1", Port: 7000, Replicas: new(int32(3))}
	done := make(chan error, 1)
	go func() {
		done <- kube.Deploy(ctx, c, "plugins", spec, kube.DeployOptions{Insecure: true})
	}()
	markFakeReady(t, c, "plugins", "greeter")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	out, err := runKube(t, c, "ls", "-n", "plugins", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var got []kube.Plugin
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(got) != 1 || got[0].Name != "greeter" || got[0].Ready != 3 || got[0].Desired != 3 || got[0].Image != "g:1" {
		t.Fatalf("ls: %s", out)
	}
	if out, err = runKube(t, c, "ls", "-n", "plugins"); err != nil || !strings.Contains(out, "3/3") {
		t.Fatalf("ls: %v\n%s", err, out)
	}
	if _, err := runKube(t, c, "rm", "greeter", "-n", "plugins"); err != nil {
		t.Fatal(err)
	}
	deps, _ := c.AppsV1().Deployments("plugins").List(ctx, metav1.ListOptions{LabelSelector: kube.ManagedSelector("")})
	svcs, _ := c.CoreV1().Services("plugins").List(ctx, metav1.ListOptions{LabelSelector: kube.ManagedSelector("")})
	if len(deps.Items)+len(svcs.Items) != 0 {
		t.Errorf("rm left %d Deployments and %d Services", len(deps.Items), len(svcs.Items))
	}
}

// fakeSlice plays the EndpointSlice controller: Service name's slice lists
// n ready endpoints.
func fakeSlice(t *testing.T, c kubernetes.Interface, ns, name string, n int32) {
	t.Helper()
	port := int32(7000)
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: name + "-slice", Namespace: ns, Labels: map[string]string{"kubernetes.io/service-name": name}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Port: &port}},
	}
	for i := range n {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{fmt.Sprintf("10.0.0.%d", i+1)}})
	}
	if _, err := c.DiscoveryV1().EndpointSlices(ns).Create(context.Background(), s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// markFakeReady plays the deployment controller for one Deployment.
func markFakeReady(t *testing.T, c kubernetes.Interface, ns, name string) {
	t.Helper()
	ctx := context.Background()
	deadline := time.After(5 * time.Second)
	for {
		d, err := c.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			n := *d.Spec.Replicas
			d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: n, UpdatedReplicas: n, ReadyReplicas: n, AvailableReplicas: n}
			if _, err := c.AppsV1().Deployments(ns).UpdateStatus(ctx, d, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
			fakeSlice(t, c, ns, name, n)
			return
		}
		select {
		case <-deadline:
			t.Fatal("the Deployment was never created")
		case <-time.After(20 * time.Millisecond):
		}
	}
}
