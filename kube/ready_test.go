package kube

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// pod is a pod of the greeter with the given status.
func pod(name string, st corev1.PodStatus) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNS, Labels: managedLabels("greeter")}, Status: st}
}

// diagnose names the reason a pod is not ready, the most telling first.
func TestDiagnoseSaysWhy(t *testing.T) {
	crashed := corev1.ContainerStatus{Name: "plugin", RestartCount: 3,
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: 2, Reason: "Error", Message: "panic: no config"}}}
	cases := []struct {
		name   string
		status corev1.PodStatus
		reason string
		says   []string
	}{
		{"crash loop", corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{crashed}},
			ReasonCrashLoop, []string{"last exited with code 2", "last log lines"}},
		{"unschedulable", corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{
			Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable", Message: "0/1 nodes: Insufficient cpu"}}},
			ReasonUnschedulable, []string{"Insufficient cpu"}},
		{"image", corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "plugin",
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: "not found"}}}}},
			ReasonImage, []string{"ImagePullBackOff: not found"}},
		{"probe", corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{Name: "plugin",
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}},
			ReasonProbe, []string{"readiness probe failing", "last log lines"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := fake.NewClientset(pod("greeter-ok", corev1.PodStatus{Phase: corev1.PodPending}), pod("greeter-bad", tc.status))
			spec := goodSpec()
			d, _ := spec.objects(testNS, false)
			e := diagnose(context.Background(), c, d)
			if e.Reason != tc.reason || e.Pod != "greeter-bad" || e.Desired != 2 {
				t.Fatalf("got %+v, want reason %q for greeter-bad", e, tc.reason)
			}
			for _, s := range tc.says {
				if !strings.Contains(e.Error(), s) {
					t.Errorf("%q does not say %q", e, s)
				}
			}
		})
	}
}

func TestLastLines(t *testing.T) {
	in := strings.Repeat("line\n", 30) + "last\n"
	if got := lastLines(in, 3); got != "line\nline\nlast" {
		t.Errorf("got %q", got)
	}
}
