package kube

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/tetherplug/tether"
)

// Everything deployed carries tether's labels (so discovery and rm find
// it), the Service is owned by the Deployment, and the pods get the
// listen address and the TLS files.
func TestDeployLabelsAndPod(t *testing.T) {
	c := fake.NewClientset(tlsSecret("greeter-tls"))
	spec := goodSpec()
	if _, _, err := deploy(context.Background(), c, testNS, &spec, DeployOptions{}); err != nil {
		t.Fatal(err)
	}
	ctx, sel := context.Background(), metav1.ListOptions{LabelSelector: ManagedSelector("greeter")}
	deps, _ := c.AppsV1().Deployments(testNS).List(ctx, sel)
	svcs, _ := c.CoreV1().Services(testNS).List(ctx, sel)
	if len(deps.Items) != 1 || len(svcs.Items) != 1 {
		t.Fatalf("found %d Deployments and %d Services by tether's labels, want 1 and 1", len(deps.Items), len(svcs.Items))
	}
	d, svc := deps.Items[0], svcs.Items[0]
	if d.Labels["team"] != "a" || !managed(d.Spec.Template.Labels, "greeter") {
		t.Errorf("labels: deployment %v, pods %v", d.Labels, d.Spec.Template.Labels)
	}
	if len(svc.OwnerReferences) != 1 || svc.OwnerReferences[0].Kind != "Deployment" || svc.OwnerReferences[0].Name != "greeter" {
		t.Errorf("the Service's owner references are %v", svc.OwnerReferences)
	}
	env := map[string]string{}
	ctr := d.Spec.Template.Spec.Containers[0]
	for _, e := range ctr.Env {
		env[e.Name] = e.Value
		if e.Name == "POD_IP" && (e.ValueFrom == nil || e.ValueFrom.FieldRef.FieldPath != "status.podIP") {
			t.Errorf("POD_IP is not from the downward API: %+v", e)
		}
	}
	want := map[string]string{"TETHER_LISTEN": "$(POD_IP):7000", "TETHER_TLS_CERT": "/etc/tether/tls/tls.crt",
		"TETHER_TLS_KEY": "/etc/tether/tls/tls.key", "TETHER_TLS_CLIENT_CA": "/etc/tether/tls/ca.crt", "GREETING": "hello"}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s=%q, want %q", k, env[k], v)
		}
	}
	if p := ctr.ReadinessProbe; p == nil || p.TCPSocket == nil || p.TCPSocket.Port.IntValue() != 7000 {
		t.Errorf("readiness probe %+v, want tcpSocket on 7000", p)
	}
	if v := d.Spec.Template.Spec.Volumes; len(v) != 1 || v[0].Secret == nil || v[0].Secret.SecretName != "greeter-tls" {
		t.Errorf("volumes %+v, want the TLS Secret", v)
	}
	if *d.Spec.Replicas != 2 {
		t.Errorf("replicas %d, want 2", *d.Spec.Replicas)
	}
}

// A conflict, a throttled or an internal error is retried; the apply
// succeeds on the third attempt.
func TestRetryableErrorsAreRetried(t *testing.T) {
	gr := schema.GroupResource{Group: "apps", Resource: "deployments"}
	for name, e := range map[string]error{
		"conflict":  apierrors.NewConflict(gr, "greeter", errors.New("changed")),
		"throttled": apierrors.NewTooManyRequests("slow down", 0),
		"internal":  apierrors.NewInternalError(errors.New("etcd hiccup")),
		"timeout":   apierrors.NewServerTimeout(gr, "create", 0),
	} {
		t.Run(name, func(t *testing.T) {
			c := fake.NewClientset(tlsSecret("greeter-tls"))
			calls := failN(c, "patch", "deployments", 2, e)
			spec := goodSpec()
			if _, _, err := deploy(context.Background(), c, testNS, &spec, DeployOptions{}); err != nil {
				t.Fatalf("deploy after two %s errors: %v", name, err)
			}
			if *calls != 3 {
				t.Errorf("%d apply attempts, want 3", *calls)
			}
		})
	}
}

// Retries end: an error that persists is returned after Backoff.Steps
// attempts.
func TestRetryGivesUp(t *testing.T) {
	c := fake.NewClientset(tlsSecret("greeter-tls"))
	calls := failN(c, "patch", "deployments", 100, apierrors.NewInternalError(errors.New("down")))
	spec := goodSpec()
	_, _, err := deploy(context.Background(), c, testNS, &spec, DeployOptions{})
	if !errors.Is(err, tether.ErrHost) || errors.Is(err, tether.ErrUnavailable) || !apierrors.IsInternalError(err) {
		t.Fatalf("want ErrHost (not ErrUnavailable) wrapping the internal error, got %v", err)
	}
	if *calls != Backoff.Steps {
		t.Errorf("%d attempts, want %d", *calls, Backoff.Steps)
	}
}

// A Forbidden error is not retried, and names the verb and resource.
func TestForbiddenNamesVerbAndResource(t *testing.T) {
	c := fake.NewClientset(tlsSecret("greeter-tls"))
	forbidden := apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "deployments"}, "greeter",
		errors.New(`User "system:serviceaccount:plugins:host" cannot create resource "deployments"`))
	calls := failN(c, "patch", "deployments", 100, forbidden)
	spec := goodSpec()
	_, _, err := deploy(context.Background(), c, testNS, &spec, DeployOptions{})
	var ae *APIError
	if !errors.Is(err, tether.ErrHost) || !errors.As(err, &ae) || !apierrors.IsForbidden(err) {
		t.Fatalf("want ErrHost wrapping an *APIError that is Forbidden, got %v", err)
	}
	want := "may not create deployments.apps \"greeter\" in namespace plugins: the service account or user lacks `create`"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("message %q does not say %q", err, want)
	}
	if *calls != 1 {
		t.Errorf("a Forbidden create was attempted %d times, want 1", *calls)
	}
}

// A Service that cannot be created takes its Deployment away with it.
func TestServiceFailureRemovesDeployment(t *testing.T) {
	c := fake.NewClientset(tlsSecret("greeter-tls"))
	failN(c, "patch", "services", 100, apierrors.NewBadRequest("no"))
	spec := goodSpec()
	if _, _, err := deploy(context.Background(), c, testNS, &spec, DeployOptions{}); err == nil {
		t.Fatal("deploy succeeded without its Service")
	}
	deps, _ := c.AppsV1().Deployments(testNS).List(context.Background(), metav1.ListOptions{})
	if len(deps.Items) != 0 {
		t.Errorf("%d Deployments left after the Service failed", len(deps.Items))
	}
}

// Remove deletes only what tether manages.
func TestRemoveLeavesForeignObjects(t *testing.T) {
	c := fake.NewClientset(tlsSecret("greeter-tls"))
	spec := goodSpec()
	if _, _, err := deploy(context.Background(), c, testNS, &spec, DeployOptions{}); err != nil {
		t.Fatal(err)
	}
	other := goodSpec()
	other.Name = "other"
	d, _ := other.objects(testNS, false)
	d.Labels = map[string]string{"app": "other"}
	if _, err := c.AppsV1().Deployments(testNS).Create(context.Background(), d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := Remove(context.Background(), c, testNS, "greeter"); err != nil {
		t.Fatal(err)
	}
	if err := Remove(context.Background(), c, testNS, "other"); err != nil {
		t.Fatal(err)
	}
	deps, _ := c.AppsV1().Deployments(testNS).List(context.Background(), metav1.ListOptions{})
	if len(deps.Items) != 1 || deps.Items[0].Name != "other" {
		t.Errorf("left %d Deployments, want only the foreign one", len(deps.Items))
	}
}

// Deploy returns only once the Service's EndpointSlices list every ready
// replica: the Deployment controller counts a pod ready a moment before
// the EndpointSlice controller lists it, and a client opened right after
// Deploy would see fewer pods than were deployed.
func TestDeployWaitsForTheSlices(t *testing.T) {
	c := fake.NewClientset(tlsSecret("greeter-tls"))
	spec := goodSpec()
	spec.Replicas = new(int32(3))
	done := make(chan error, 1)
	go func() {
		done <- Deploy(context.Background(), c, testNS, spec, DeployOptions{ReadyTimeout: 2 * time.Second})
	}()
	markReady(t, c, "greeter")
	ready := map[string]bool{"10.0.0.1": true, "10.0.0.2": true, "10.0.0.3": false}
	if _, err := c.DiscoveryV1().EndpointSlices(testNS).Create(context.Background(),
		slice("greeter-a", "greeter", spec.Port, ready), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, tether.ErrStartTimeout) || !strings.Contains(err.Error(), "listed 2 of them ready") {
			t.Fatalf("Deploy with 2 of 3 replicas listed: %v, want a start timeout saying 2 were listed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Deploy did not return within 10s of its 2s ready timeout")
	}

	done = make(chan error, 1)
	go func() {
		done <- Deploy(context.Background(), c, testNS, spec, DeployOptions{ReadyTimeout: 5 * time.Second})
	}()
	markReady(t, c, "greeter")
	ready["10.0.0.3"] = true
	if _, err := c.DiscoveryV1().EndpointSlices(testNS).Update(context.Background(),
		slice("greeter-a", "greeter", spec.Port, ready), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Deploy with 3 of 3 listed: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Deploy did not return within 10s with every replica listed")
	}
}

// Deploying a plugin tether deployed before updates it in place (a
// server-side apply by field manager "tether"), keeping its identity, so
// the Deployment rolls out the new spec.
func TestDeployAgainUpdates(t *testing.T) {
	c := fake.NewClientset(tlsSecret("greeter-tls"))
	spec := goodSpec()
	first, created, err := deploy(context.Background(), c, testNS, &spec, DeployOptions{})
	if err != nil || !created {
		t.Fatalf("first deploy: created %v, %v", created, err)
	}
	spec.Image = "example.com/greeter:2"
	spec.Env = map[string]string{"GREETING": "hi"}
	second, created, err := deploy(context.Background(), c, testNS, &spec, DeployOptions{})
	if err != nil || created {
		t.Fatalf("second deploy: created %v, %v (want an update)", created, err)
	}
	if second.UID != first.UID {
		t.Errorf("the Deployment was replaced (uid %s, then %s), not updated", first.UID, second.UID)
	}
	got, err := c.AppsV1().Deployments(testNS).Get(context.Background(), "greeter", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctr := got.Spec.Template.Spec.Containers[0]
	if ctr.Image != "example.com/greeter:2" {
		t.Errorf("image %q after the second deploy, want example.com/greeter:2", ctr.Image)
	}
	for _, e := range ctr.Env {
		if e.Name == "GREETING" && e.Value != "hi" {
			t.Errorf("GREETING=%q after the second deploy, want hi", e.Value)
		}
	}
	for _, a := range actionsOf(c, "patch") {
		if p, ok := a.(k8stesting.PatchAction); !ok || p.GetPatchType() != types.ApplyPatchType {
			t.Errorf("a %s patch, want server-side apply", p.GetPatchType())
		}
	}
	if n := len(actionsOf(c, "create")); n != 0 {
		t.Errorf("%d creates, want every write to be an apply", n)
	}
}
