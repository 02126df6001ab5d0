package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/yaml"

	"github.com/tetherplug/tether/kube"
)

// syncBuffer is a bytes.Buffer a command writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// cliRun is one in-process run of the CLI against a fake cluster.
type cliRun struct {
	stdout, stderr string
	err            error
	// context is the kubeconfig context the API client was made for.
	context string
}

// runWith runs "tether ARGS" in this process with c as every API client;
// stderr, if not nil, receives the command's stderr as it is written.
func runWith(t *testing.T, c kubernetes.Interface, stderr *syncBuffer, args ...string) cliRun {
	t.Helper()
	var r cliRun
	old := newKubeClient
	newKubeClient = func(_, context string) (kubernetes.Interface, error) { r.context = context; return c, nil }
	t.Cleanup(func() { newKubeClient = old })
	if stderr == nil {
		stderr = &syncBuffer{}
	}
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(stderr)
	root.SetArgs(args)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r.err = root.ExecuteContext(ctx)
	r.stdout, r.stderr = out.String(), stderr.String()
	return r
}

// kubeconfigFile writes a kubeconfig with contexts ctx-a (namespace alpha,
// the current one), ctx-b (namespace beta) and ctx-none (no namespace).
func kubeconfigFile(t *testing.T) string {
	t.Helper()
	conf := `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://127.0.0.1:1"}
users:
- name: u
  user: {token: t}
contexts:
- name: ctx-a
  context: {cluster: c, user: u, namespace: alpha}
- name: ctx-b
  context: {cluster: c, user: u, namespace: beta}
- name: ctx-none
  context: {cluster: c, user: u}
current-context: ctx-a
`
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// managedDeployment is a Deployment tether deployed, ready.
func managedDeployment(ns, name string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{kube.LabelManagedBy: kube.ManagedBy, kube.LabelPlugin: name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "plugin", Image: name + ":1"}}}}},
		Status: appsv1.DeploymentStatus{Replicas: replicas, ReadyReplicas: replicas, UpdatedReplicas: replicas, AvailableReplicas: replicas},
	}
}

// Without -n, tether kube uses the namespace of the kubeconfig's context,
// the current one or --context's, as kubectl does ("default" when the
// context names none); -n wins; ls -A lists every namespace.
func TestKubeContextNamespace(t *testing.T) {
	kc := kubeconfigFile(t)
	c := fake.NewClientset(managedDeployment("alpha", "a-plugin", 1), managedDeployment("beta", "b-plugin", 1),
		managedDeployment("default", "d-plugin", 1), managedDeployment("gamma", "g-plugin", 1))
	for _, tc := range []struct {
		args        []string
		want, wantC string
	}{
		{nil, "a-plugin", ""},
		{[]string{"--context", "ctx-b"}, "b-plugin", "ctx-b"},
		{[]string{"--context", "ctx-none"}, "d-plugin", "ctx-none"},
		{[]string{"--context", "ctx-b", "-n", "gamma"}, "g-plugin", "ctx-b"},
	} {
		r := runWith(t, c, nil, append([]string{"kube", "ls", "--kubeconfig", kc, "--json"}, tc.args...)...)
		var got []kube.Plugin
		if err := json.Unmarshal([]byte(r.stdout), &got); r.err != nil || err != nil {
			t.Fatalf("ls %v: %v %v\n%s", tc.args, r.err, err, r.stdout)
		}
		if len(got) != 1 || got[0].Name != tc.want {
			t.Errorf("ls %v listed %+v, want only %s", tc.args, got, tc.want)
		}
		if r.context != tc.wantC {
			t.Errorf("ls %v: client made for context %q, want %q", tc.args, r.context, tc.wantC)
		}
	}
	r := runWith(t, c, nil, "kube", "ls", "--kubeconfig", kc, "--context", "no-such")
	if r.err == nil || !strings.Contains(r.err.Error(), "no-such") {
		t.Errorf("an unknown context: %v, want an error naming it", r.err)
	}

	r = runWith(t, c, nil, "kube", "ls", "-A", "--kubeconfig", kc)
	if r.err != nil {
		t.Fatal(r.err)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "NAMESPACE") {
		t.Fatalf("ls -A:\n%s", r.stdout)
	}
	for i, want := range []string{"alpha", "beta", "default", "gamma"} {
		if f := strings.Fields(lines[i+1]); f[0] != want || f[1] != want[:1]+"-plugin" {
			t.Errorf("ls -A line %d: %q, want namespace %s", i+1, lines[i+1], want)
		}
	}
}

// A full spec's flags, in a dry run: the Deployment and Service printed
// as YAML documents (or a JSON List) that parse back strictly, with every
// field, and nothing created.
func TestKubeDeployDryRun(t *testing.T) {
	c := fake.NewClientset()
	args := []string{"kube", "deploy", "greeter", "-n", "plugins", "--image", "g:1", "--port", "7000", "--replicas", "0",
		"--tls-secret", "g-tls", "--service-account", "greeter-sa", "--image-pull-secret", "regcred",
		"--image-pull-secret", "mirror", "--node-selector", "pool=plugins,zone=a", "--toleration", "dedicated=plugins:NoSchedule",
		"--toleration", "spot", "--requests", "cpu=100m,memory=64Mi", "--limits", "memory=128Mi", "--dry-run"}
	r := runWith(t, c, nil, append(args, "-o", "yaml")...)
	if r.err != nil {
		t.Fatal(r.err)
	}
	docs := strings.Split(r.stdout, "\n---\n")
	if len(docs) != 2 {
		t.Fatalf("want 2 YAML documents:\n%s", r.stdout)
	}
	var d appsv1.Deployment
	var svc corev1.Service
	if err := yaml.UnmarshalStrict([]byte(docs[0]), &d); err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict([]byte(docs[1]), &svc); err != nil {
		t.Fatal(err)
	}
	checkDryRunObjects(t, &d, &svc)
	if n := len(c.Actions()); n != 0 {
		t.Errorf("a dry run made %d API requests: %v", n, c.Actions())
	}

	r = runWith(t, c, nil, append(args, "-o", "json")...)
	var list struct {
		Kind  string
		Items []json.RawMessage
	}
	if err := json.Unmarshal([]byte(r.stdout), &list); r.err != nil || err != nil || list.Kind != "List" || len(list.Items) != 2 {
		t.Fatalf("-o json: %v %v\n%s", r.err, err, r.stdout)
	}
	d, svc = appsv1.Deployment{}, corev1.Service{}
	if json.Unmarshal(list.Items[0], &d) != nil || json.Unmarshal(list.Items[1], &svc) != nil {
		t.Fatalf("-o json items:\n%s", r.stdout)
	}
	checkDryRunObjects(t, &d, &svc)

	if r := runWith(t, c, nil, "kube", "deploy", "greeter", "--image", "g:1", "--port", "7000", "--insecure", "-o", "yaml"); r.err == nil ||
		!strings.Contains(r.err.Error(), "--dry-run") {
		t.Errorf("-o without --dry-run: %v", r.err)
	}
}

func checkDryRunObjects(t *testing.T, d *appsv1.Deployment, svc *corev1.Service) {
	t.Helper()
	if d.Kind != "Deployment" || d.APIVersion != "apps/v1" || svc.Kind != "Service" || svc.APIVersion != "v1" {
		t.Errorf("kinds %s %s / %s %s", d.APIVersion, d.Kind, svc.APIVersion, svc.Kind)
	}
	if d.Name != "greeter" || d.Namespace != "plugins" || svc.Name != "greeter" || d.Spec.Replicas == nil || *d.Spec.Replicas != 0 {
		t.Errorf("deployment %s/%s replicas %v", d.Namespace, d.Name, d.Spec.Replicas)
	}
	pod := d.Spec.Template.Spec
	want := corev1.PodSpec{ServiceAccountName: "greeter-sa",
		ImagePullSecrets: []corev1.LocalObjectReference{{Name: "regcred"}, {Name: "mirror"}},
		NodeSelector:     map[string]string{"pool": "plugins", "zone": "a"},
		Tolerations: []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "plugins", Effect: corev1.TaintEffectNoSchedule},
			{Key: "spot", Operator: corev1.TolerationOpExists}}}
	got := corev1.PodSpec{ServiceAccountName: pod.ServiceAccountName, ImagePullSecrets: pod.ImagePullSecrets,
		NodeSelector: pod.NodeSelector, Tolerations: pod.Tolerations}
	gb, _ := json.Marshal(got)
	wb, _ := json.Marshal(want)
	if !bytes.Equal(gb, wb) {
		t.Errorf("pod spec\n%s\nwant\n%s", gb, wb)
	}
	res := pod.Containers[0].Resources
	if res.Requests.Cpu().String() != "100m" || res.Requests.Memory().String() != "64Mi" || res.Limits.Memory().String() != "128Mi" {
		t.Errorf("resources %v", res)
	}
}
