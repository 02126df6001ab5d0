package nodeagent

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/tetherplug/tether/test/kubeenv"
)

// TestDeploymentOnRealControlPlane: a Deployment of 2 replicas of the helper gets 2 Running,
// Ready pods with distinct loopback IPs, and the Service's EndpointSlice lists both ready. A
// deleted pod is stopped, removed, and replaced by the ReplicaSet.
func TestDeploymentOnRealControlPlane(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane")
	}
	env := kubeenv.Start(t)
	ns := env.Namespace(t)
	c := env.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	labels := map[string]string{"app": "echo"}
	two := int32(2)
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "echo", Namespace: ns},
		Spec: appsv1.DeploymentSpec{Replicas: &two, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
				TerminationGracePeriodSeconds: ptr(int64(5)),
				Containers: []corev1.Container{{Name: "main", Image: "helper:v1@sha256:0123",
					Ports: []corev1.ContainerPort{{Name: "grpc", ContainerPort: 7000}},
					Env: []corev1.EnvVar{{Name: helperEnv, Value: "serve"},
						{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
						{Name: "LISTEN", Value: "$(POD_IP):7000"}},
					ReadinessProbe: &corev1.Probe{PeriodSeconds: 1,
						ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 7000}}}}}}}}}
	if _, err := c.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "echo", Namespace: ns},
		Spec: corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Name: "grpc", Port: 7000}}}}
	if _, err := c.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ips := waitReadyPods(ctx, t, c, ns, 2, "")
	waitSliceReady(ctx, t, c, ns, ips)

	// Delete one pod: the agent stops it and removes the object; a replacement becomes ready.
	var victim string
	for name := range ips {
		victim = name
		break
	}
	// The service account's projected volume (added by the ServiceAccount admission plugin) is
	// written under the pod root: token (from a TokenRequest), ca.crt and namespace.
	sa := env.Dir() + "/agent/pods/" + ns + "/" + victim + "/root/var/run/secrets/kubernetes.io/serviceaccount/"
	for file, want := range map[string]string{"token": "", "ca.crt": "-----BEGIN CERTIFICATE-----", "namespace": ns} {
		b, err := os.ReadFile(sa + file)
		if err != nil || len(b) == 0 || !strings.HasPrefix(string(b), want) {
			t.Errorf("service account %s: %.40q, %v", file, b, err)
		}
	}
	// pods/log reaches the agent's log server through the API server.
	tail := int64(5)
	out, err := c.CoreV1().Pods(ns).GetLogs(victim, &corev1.PodLogOptions{Container: "main", TailLines: &tail}).DoRaw(ctx)
	if err != nil || !strings.Contains(string(out), "listening on "+ips[victim]+":7000") {
		t.Errorf("pods/log of %s: %q, %v", victim, out, err)
	}
	if err := c.CoreV1().Pods(ns).Delete(ctx, victim, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	ips = waitReadyPods(ctx, t, c, ns, 2, victim)
	waitSliceReady(ctx, t, c, ns, ips)
	if tail, err := LogTail(env.Dir()+"/agent", ns, victim, "main", 1); err != nil || len(tail) != 1 || tail[0] != "terminating" {
		t.Errorf("the deleted pod's process did not end on SIGTERM: %q %v", tail, err)
	}
}

// waitReadyPods waits until exactly n pods of the namespace, none named without, are Running and
// Ready with distinct pod IPs, and returns name → IP.
func waitReadyPods(ctx context.Context, t *testing.T, c kubernetes.Interface, ns string, n int, without string) map[string]string {
	t.Helper()
	var last []corev1.Pod
	for {
		pods, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err == nil {
			last = pods.Items
			ips := map[string]string{}
			seen := map[string]bool{}
			for _, p := range pods.Items {
				if p.Name != without && p.Status.Phase == corev1.PodRunning && cond(&p, corev1.PodReady) && !seen[p.Status.PodIP] {
					ips[p.Name], seen[p.Status.PodIP] = p.Status.PodIP, true
				}
			}
			if len(ips) == n && len(pods.Items) == n {
				return ips
			}
		}
		select {
		case <-ctx.Done():
			for _, p := range last {
				t.Logf("pod %s: %s ip=%s deleting=%v conditions=%+v containers=%+v", p.Name, p.Status.Phase,
					p.Status.PodIP, p.DeletionTimestamp != nil, p.Status.Conditions, p.Status.ContainerStatuses)
			}
			t.Fatalf("no %d Running Ready pods with distinct IPs: %v", n, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitSliceReady waits until the Service's EndpointSlices list exactly the pods' IPs, all ready.
func waitSliceReady(ctx context.Context, t *testing.T, c kubernetes.Interface, ns string, pods map[string]string) {
	t.Helper()
	var got map[string]bool
	for {
		slices, err := c.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=echo"})
		if err == nil {
			got = map[string]bool{}
			for _, s := range slices.Items {
				for _, ep := range s.Endpoints {
					ready := ep.Conditions.Ready != nil && *ep.Conditions.Ready
					for _, a := range ep.Addresses {
						got[a] = ready
					}
				}
			}
			ok := len(got) == len(pods)
			for _, ip := range pods {
				ok = ok && got[ip]
			}
			if ok {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("EndpointSlices list %v (address → ready), want %v all ready: %v", got, pods, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
