package kube

import (
	"bytes"
	"context"
	"os"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/yaml"
)

// The sample manifest is a valid user-provided spec: its selectors match,
// its image is pinned, and it mounts the TLS Secret.
func TestSampleManifestValidates(t *testing.T) {
	b, err := os.ReadFile("../deploy/greeter.yaml")
	if err != nil {
		t.Fatal(err)
	}
	docs := bytes.Split(b, []byte("\n---\n"))
	if len(docs) != 2 {
		t.Fatalf("%d documents, want a Deployment and a Service", len(docs))
	}
	spec := Spec{Name: "greeter", TLSSecret: "greeter-tls", Deployment: &appsv1.Deployment{}, Service: &corev1.Service{}}
	if err := yaml.UnmarshalStrict(docs[0], spec.Deployment); err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(docs[1], spec.Service); err != nil {
		t.Fatal(err)
	}
	c := fake.NewClientset(tlsSecret("greeter-tls"))
	if _, _, err := deploy(context.Background(), c, testNS, &spec, DeployOptions{PinnedImages: true}); err != nil {
		t.Fatal(err)
	}
}
