package kube

import (
	"context"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/tetherplug/tether/internal/plugintest"
)

// While Deploy waits, Progress is told how far the replicas got and why a
// pod is not ready, once each time that changes: a pending pod is "not
// ready yet", then its image is not found.
func TestDeployProgress(t *testing.T) {
	c := fake.NewClientset(tlsSecret("greeter-tls"))
	var mu sync.Mutex
	var seen []string
	o := DeployOptions{ReadyTimeout: 20 * time.Second, Progress: func(e *NotReadyError) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, e.Error())
	}}
	saw := func(s string) func() bool {
		return func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(seen) > 0 && seen[len(seen)-1] == s
		}
	}
	done := make(chan error, 1)
	go func() { done <- Deploy(context.Background(), c, testNS, goodSpec(), o) }()
	plugintest.Eventually(t, 5*time.Second, "the Deployment created", func() bool {
		_, err := c.AppsV1().Deployments(testNS).Get(context.Background(), "greeter", metav1.GetOptions{})
		return err == nil
	})
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "greeter-1", Namespace: testNS, Labels: managedLabels("greeter")},
		Status: corev1.PodStatus{Phase: corev1.PodPending}}
	pod, err := c.CoreV1().Pods(testNS).Create(context.Background(), pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	plugintest.Eventually(t, 5*time.Second, "a pending pod reported", saw("0 of 2 replicas ready; pod greeter-1: not ready yet"))
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "plugin", State: corev1.ContainerState{
		Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull", Message: "no such image"}}}}
	if _, err := c.CoreV1().Pods(testNS).UpdateStatus(context.Background(), pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	plugintest.Eventually(t, 5*time.Second, "the missing image reported",
		saw("0 of 2 replicas ready; pod greeter-1: image not found: ErrImagePull: no such image"))
	markReady(t, c, "greeter")
	if _, err := c.DiscoveryV1().EndpointSlices(testNS).Create(context.Background(),
		slice("greeter-1", "greeter", 7000, map[string]bool{"10.0.0.1": true, "10.0.0.2": true}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Deploy did not return once ready")
	}
	mu.Lock()
	defer mu.Unlock()
	// Each state once: a report before the pod existed may come first.
	for i := 1; i < len(seen); i++ {
		if seen[i] == seen[i-1] {
			t.Errorf("progress %q, want each state once", seen)
		}
	}
}
