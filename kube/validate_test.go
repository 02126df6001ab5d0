package kube

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// userObjects is a valid user-provided Deployment and Service.
func userObjects() (*appsv1.Deployment, *corev1.Service) {
	l := map[string]string{"app": "greeter"}
	d := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{
		Selector: &metav1.LabelSelector{MatchLabels: l},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: l},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "p", Image: "example.com/g:1",
				Ports: []corev1.ContainerPort{{ContainerPort: 7000}}}}}},
	}}
	svc := &corev1.Service{Spec: corev1.ServiceSpec{Selector: l, Ports: []corev1.ServicePort{{Port: 7000}}}}
	return d, svc
}

// Every invalid spec is refused with an error naming the field, and
// nothing is created.
func TestValidationNamesTheFieldAndCreatesNothing(t *testing.T) {
	digest := "@sha256:" + strings.Repeat("ab", 32)
	cases := []struct {
		name, field string
		pinned      bool
		edit        func(*Spec)
	}{
		{"no port", "spec.port", false, func(s *Spec) { s.Port = 0 }},
		{"port too big", "spec.port", false, func(s *Spec) { s.Port = 70000 }},
		{"bad name", "spec.name", false, func(s *Spec) { s.Name = "Greeter_1" }},
		{"no image", "spec.image", false, func(s *Spec) { s.Image = "" }},
		{"image not pinned", "spec.image", true, func(s *Spec) {}},
		{"image pinned by tag only", "spec.image", true, func(s *Spec) { s.Image = "example.com/g@sha256:abc" }},
		{"missing TLS Secret", "spec.tlsSecret", false, func(s *Spec) { s.TLSSecret = "nope" }},
		{"Secret without ca.crt", "spec.tlsSecret", false, func(s *Spec) { s.TLSSecret = "partial" }},
		{"no TLS Secret", "spec.tlsSecret", false, func(s *Spec) { s.TLSSecret = "" }},
		{"reserved env", "spec.env", false, func(s *Spec) { s.Env = map[string]string{"TETHER_LISTEN": "x"} }},
		{"bad env name", "spec.env", false, func(s *Spec) { s.Env = map[string]string{"1A": "x"} }},
		{"bad label", "spec.labels", false, func(s *Spec) { s.Labels = map[string]string{"a b": "c"} }},
		{"negative replicas", "spec.replicas", false, func(s *Spec) { s.Replicas = new(int32(-1)) }},
		{"selector not matching", "deployment.spec.selector", false, func(s *Spec) {
			s.Deployment, s.Service = userObjects()
			s.Deployment.Spec.Selector.MatchLabels = map[string]string{"app": "other"}
		}},
		{"service selector not matching", "service.spec.selector", false, func(s *Spec) {
			s.Deployment, s.Service = userObjects()
			s.Service.Spec.Selector = map[string]string{"app": "other"}
		}},
		{"service without port", "service.spec.ports", false, func(s *Spec) {
			s.Deployment, s.Service = userObjects()
			s.Service.Spec.Ports = nil
		}},
		{"deployment without service", "spec.service", false, func(s *Spec) {
			s.Deployment, _ = userObjects()
		}},
		{"user image not pinned", "spec.image", true, func(s *Spec) {
			s.Deployment, s.Service = userObjects()
			s.Image = "ignored" + digest
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			partial := tlsSecret("partial")
			delete(partial.Data, SecretCA)
			c := fake.NewClientset(tlsSecret("greeter-tls"), partial)
			spec := goodSpec()
			tc.edit(&spec)
			_, _, err := deploy(context.Background(), c, testNS, &spec, DeployOptions{PinnedImages: tc.pinned})
			if got := fieldOf(t, err); got != tc.field {
				t.Fatalf("error names %q, want %q: %v", got, tc.field, err)
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Errorf("message %q does not name %s", err, tc.field)
			}
			if n := creates(c); n != 0 {
				t.Errorf("%d objects were created by an invalid spec", n)
			}
		})
	}
}

// The valid forms pass: a pinned image, user objects, no Secret with
// Insecure.
func TestValidSpecsPass(t *testing.T) {
	pinned := goodSpec()
	pinned.Image = "example.com/g@sha256:" + strings.Repeat("0f", 32)
	user := Spec{Name: "greeter"}
	user.Deployment, user.Service = userObjects()
	plain := goodSpec()
	plain.TLSSecret = ""
	for name, tc := range map[string]struct {
		spec Spec
		o    DeployOptions
	}{"pinned": {pinned, DeployOptions{PinnedImages: true}}, "user objects": {user, DeployOptions{}},
		"insecure": {plain, DeployOptions{Insecure: true}}} {
		t.Run(name, func(t *testing.T) {
			c := fake.NewClientset(tlsSecret("greeter-tls"))
			if _, _, err := deploy(context.Background(), c, testNS, &tc.spec, tc.o); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestBadTargets(t *testing.T) {
	for _, raw := range []string{"kube://ns", "kube://ns/", "kube:///name", "kube://ns/a/b", "kube://NS/name", "kube://ns/na_me"} {
		if _, err := tetherOpen(raw); err == nil || !isBadTarget(err) {
			t.Errorf("%s: want ErrBadTarget, got %v", raw, err)
		}
	}
}
