package main

import (
	"context"
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/tetherplug/tether/kube"
)

// logs prints each started pod's log prefixed with [pod/POD] (the fake
// client's pods/log answers "fake logs"), skips a pod not started yet, and
// refuses a plugin that is not deployed, as rm does.
func TestKubeLogsPrefixesPods(t *testing.T) {
	ctx := context.Background()
	c := fake.NewClientset()
	spec := kube.Spec{Name: "greeter", Image: "g:1", Port: 7000}
	done := make(chan error, 1)
	go func() { done <- kube.Deploy(ctx, c, "plugins", spec, kube.DeployOptions{Insecure: true}) }()
	markFakeReady(t, c, "plugins", "greeter")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{kube.LabelManagedBy: kube.ManagedBy, kube.LabelPlugin: "greeter"}
	for name, state := range map[string]corev1.ContainerState{
		"greeter-b": {Running: &corev1.ContainerStateRunning{}},
		"greeter-a": {Terminated: &corev1.ContainerStateTerminated{ExitCode: 1}},
		"greeter-c": {Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}},
	} {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "plugins", Labels: labels},
			Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: "plugin"}}},
			Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "plugin", State: state}}}}
		if _, err := c.CoreV1().Pods("plugins").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	out, err := runKube(t, c, "logs", "greeter", "-n", "plugins", "--tail", "5")
	if err != nil {
		t.Fatal(err)
	}
	if want := "[pod/greeter-a] fake logs\n[pod/greeter-b] fake logs\n"; out != want {
		t.Errorf("logs printed %q, want %q", out, want)
	}
	if _, err := runKube(t, c, "logs", "nothere", "-n", "plugins"); !errors.Is(err, kube.ErrNoSuchPlugin) {
		t.Errorf("logs of a plugin not deployed: %v, want ErrNoSuchPlugin", err)
	}
}
