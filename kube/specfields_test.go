package kube

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// The scheduling fields' mistakes are refused before anything is created,
// naming the field (and the item of a list).
func TestSchedulingValidation(t *testing.T) {
	q := resource.MustParse
	for _, tc := range []struct {
		name, field, reason string
		edit                func(*Spec)
	}{
		{"service account", "spec.serviceAccount", `"Bad_SA"`, func(s *Spec) { s.ServiceAccount = "Bad_SA" }},
		{"pull secret", "spec.imagePullSecrets[1]", "is not a Secret name", func(s *Spec) { s.ImagePullSecrets = []string{"ok", ""} }},
		{"node selector key", "spec.nodeSelector", "a b=c", func(s *Spec) { s.NodeSelector = map[string]string{"a b": "c"} }},
		{"node selector value", "spec.nodeSelector", "k=no/slash", func(s *Spec) { s.NodeSelector = map[string]string{"k": "no/slash"} }},
		{"toleration effect", "spec.tolerations[0]", "effect", func(s *Spec) {
			s.Tolerations = []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists, Effect: "Never"}}
		}},
		{"toleration Exists with value", "spec.tolerations[0]", "takes no value", func(s *Spec) {
			s.Tolerations = []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists, Value: "v"}}
		}},
		{"toleration operator", "spec.tolerations[0]", "neither Equal nor Exists", func(s *Spec) {
			s.Tolerations = []corev1.Toleration{{Key: "k", Operator: "In"}}
		}},
		{"toleration without key", "spec.tolerations[1]", "without a key", func(s *Spec) {
			s.Tolerations = []corev1.Toleration{{Key: "k"}, {Value: "v"}}
		}},
		{"toleration seconds", "spec.tolerations[0]", "NoExecute only", func(s *Spec) {
			s.Tolerations = []corev1.Toleration{{Key: "k", Effect: corev1.TaintEffectNoSchedule, TolerationSeconds: new(int64(5))}}
		}},
		{"unknown resource", "spec.resources.limits[gpu]", "is not a resource", func(s *Spec) {
			s.Resources.Limits = corev1.ResourceList{"gpu": q("1")}
		}},
		{"negative request", "spec.resources.requests[memory]", "is negative", func(s *Spec) {
			s.Resources.Requests = corev1.ResourceList{corev1.ResourceMemory: q("-1Mi")}
		}},
		{"request above limit", "spec.resources.requests[cpu]", "more than its limit 500m", func(s *Spec) {
			s.Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: q("1")}
			s.Resources.Limits = corev1.ResourceList{corev1.ResourceCPU: q("500m")}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := fake.NewClientset(tlsSecret("greeter-tls"))
			spec := goodSpec()
			tc.edit(&spec)
			_, _, err := deploy(context.Background(), c, testNS, &spec, DeployOptions{})
			if got := fieldOf(t, err); got != tc.field || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("error %v names %q, want %q saying %q", err, got, tc.field, tc.reason)
			}
			if n := creates(c); n != 0 {
				t.Errorf("%d objects were created by an invalid spec", n)
			}
		})
	}
}

// The scheduling fields reach the pod template; Replicas nil is 1 and 0
// is 0.
func TestSpecFieldsInObjects(t *testing.T) {
	spec := goodSpec()
	spec.ServiceAccount, spec.ImagePullSecrets = "greeter", []string{"regcred"}
	spec.NodeSelector = map[string]string{"pool": "plugins"}
	spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "plugins",
		Effect: corev1.TaintEffectNoSchedule}, {Operator: corev1.TolerationOpExists}}
	spec.Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"),
		"example.com/gpu": resource.MustParse("1"), "hugepages-2Mi": resource.MustParse("2Mi")}
	d, _, err := Manifest(testNS, spec, DeployOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod := d.Spec.Template.Spec
	if pod.ServiceAccountName != "greeter" || len(pod.ImagePullSecrets) != 1 || pod.ImagePullSecrets[0].Name != "regcred" ||
		pod.NodeSelector["pool"] != "plugins" || len(pod.Tolerations) != 2 || pod.Tolerations[0].Value != "plugins" {
		t.Errorf("pod spec %+v", pod)
	}
	if *d.Spec.Replicas != 2 {
		t.Errorf("replicas %d, want 2", *d.Spec.Replicas)
	}
	for _, tc := range []struct {
		replicas *int32
		want     int32
	}{{nil, 1}, {new(int32(0)), 0}} {
		spec.Replicas = tc.replicas
		if d, _, err := Manifest(testNS, spec, DeployOptions{}); err != nil || *d.Spec.Replicas != tc.want {
			t.Errorf("Replicas %v: %v, %v; want %d", tc.replicas, d.Spec.Replicas, err, tc.want)
		}
	}
}

// Deploy of 0 replicas creates the objects and returns at once: there is
// no replica to wait for, not even the Deployment controller's observing
// the new generation, which a fake cluster never does.
func TestDeployZeroReplicasDoesNotWait(t *testing.T) {
	c := fake.NewClientset(tlsSecret("greeter-tls"))
	// The Deployment controller never observes the generation here.
	c.PrependReactor("get", "deployments", func(a k8stesting.Action) (bool, kruntime.Object, error) {
		obj, err := c.Tracker().Get(appsv1.SchemeGroupVersion.WithResource("deployments"), testNS, a.(k8stesting.GetAction).GetName())
		if err != nil {
			return true, nil, err
		}
		d := obj.(*appsv1.Deployment).DeepCopy()
		d.Generation = 1
		return true, d, nil
	})
	spec := goodSpec()
	spec.Replicas = new(int32(0))
	if err := Deploy(context.Background(), c, testNS, spec, DeployOptions{ReadyTimeout: 1}); err != nil {
		t.Fatal(err)
	}
	d, err := c.AppsV1().Deployments(testNS).Get(context.Background(), "greeter", metav1.GetOptions{})
	if err != nil || *d.Spec.Replicas != 0 {
		t.Errorf("Deployment after deploying 0 replicas: %v", err)
	}
	if _, err := c.CoreV1().Services(testNS).Get(context.Background(), "greeter", metav1.GetOptions{}); err != nil {
		t.Errorf("Service after deploying 0 replicas: %v", err)
	}
}
