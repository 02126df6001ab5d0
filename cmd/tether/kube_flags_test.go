package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/tetherplug/tether/internal/plugintest"
	"github.com/tetherplug/tether/internal/plugintest/inproc"
	"github.com/tetherplug/tether/kube"
)

// Errors of kube commands name the CLI's flags, never the Go options or
// only the spec fields; nothing is created.
func TestKubeErrorsNameFlags(t *testing.T) {
	c := fake.NewClientset()
	deploy := []string{"kube", "deploy", "greeter", "-n", "plugins", "--image", "g:1", "--port", "7000"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{deploy, "spec.tlsSecret (--tls-secret): a plugin needs a TLS Secret for mutual TLS, unless --insecure"},
		{append(deploy, "--insecure", "--pinned"), `spec.image (--image): "g:1" is not pinned by digest (NAME@sha256:DIGEST), which --pinned requires`},
		{append(deploy, "--insecure", "--replicas", "-1"), "spec.replicas (--replicas): it is negative"},
		{append(deploy, "--insecure", "--node-selector", "bad key=x"), "spec.nodeSelector (--node-selector): bad key=x"},
		{append(deploy, "--insecure", "--toleration", "k=v:Sometimes"), `spec.tolerations[0] (--toleration): effect "Sometimes" is not NoSchedule, PreferNoSchedule or NoExecute`},
		{append(deploy, "--insecure", "--requests", "cpu=2", "--limits", "cpu=1"), "spec.resources.requests[cpu] (--requests): 2 is more than its limit 1"},
		{append(deploy, "--insecure", "--limits", "gpu=1"), `spec.resources.limits[gpu] (--limits): "gpu" is not a resource`},
		{append(deploy, "--insecure", "--service-account", "Bad_SA"), `spec.serviceAccount (--service-account): "Bad_SA"`},
		{append(deploy, "--insecure", "--image-pull-secret", "no/slash"), `spec.imagePullSecrets[0] (--image-pull-secret): "no/slash" is not a Secret name`},
		{append(deploy, "--insecure", "--toleration", "=v"), `--toleration "=v": want KEY[=VALUE][:EFFECT]`},
		{append(deploy, "--insecure", "--requests", "cpu=lots"), "--requests cpu=lots"},
		{append(deploy, "--insecure", "--cpu", "1", "--requests", "cpu=1"), "give them, or --requests and --limits, not both"},
		{[]string{"inspect", "kube://plugins/greeter"}, kubeNeedsTLS},
		{[]string{"inspect", "kube://plugins/absent", "--insecure", "--timeout", "5s"},
			"there is no Deployment absent in namespace plugins: deploy it first with tether kube deploy"},
		{[]string{"call", "./plugin", "E/M", "{}", "--context", "prod"}, "--context is for kube:// targets, not ./plugin"},
	} {
		r := runWith(t, c, nil, tc.args...)
		if r.err == nil || !strings.Contains(r.err.Error(), tc.want) {
			t.Errorf("tether %v: %v, want an error saying %q", tc.args, r.err, tc.want)
		} else if strings.Contains(r.err.Error(), "kube.With") {
			t.Errorf("tether %v: %v names a Go option", tc.args, r.err)
		}
	}
	for _, a := range c.Actions() {
		if a.GetVerb() == "create" {
			t.Errorf("created %s", a.GetResource().Resource)
		}
	}
}

// --replicas 0 deploys a Deployment of 0 replicas, and does not wait for
// one to be ready.
func TestKubeDeployReplicasZero(t *testing.T) {
	c := fake.NewClientset()
	r := runWith(t, c, nil, "kube", "deploy", "idle", "-n", "plugins", "--image", "g:1", "--port", "7000",
		"--insecure", "--replicas", "0", "--timeout", "3s")
	if r.err != nil {
		t.Fatalf("deploy --replicas 0: %v", r.err)
	}
	d, err := c.AppsV1().Deployments("plugins").Get(context.Background(), "idle", metav1.GetOptions{})
	if err != nil || d.Spec.Replicas == nil || *d.Spec.Replicas != 0 {
		t.Fatalf("Deployment %v (%v), want 0 replicas", d, err)
	}
	if !strings.Contains(r.stdout, "idle: 0 replicas ready") {
		t.Errorf("deploy printed %q", r.stdout)
	}
}

// While deploy waits, it prints on stderr how many replicas are ready and
// why one is not, each time that changes.
func TestKubeDeployProgress(t *testing.T) {
	c := fake.NewClientset()
	stderr := &syncBuffer{}
	done := make(chan cliRun, 1)
	go func() {
		done <- runWith(t, c, stderr, "kube", "deploy", "greeter", "-n", "plugins", "--image", "g:404", "--port", "7000",
			"--insecure", "--replicas", "2", "--timeout", "20s")
	}()
	plugintest.Eventually(t, 10*time.Second, "the Deployment created", func() bool {
		_, err := c.AppsV1().Deployments("plugins").Get(context.Background(), "greeter", metav1.GetOptions{})
		return err == nil
	})
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "greeter-1", Namespace: "plugins", Labels: map[string]string{
		kube.LabelManagedBy: kube.ManagedBy, kube.LabelPlugin: "greeter"}},
		Status: corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{Name: "plugin",
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: "g:404 not found"}}}}}}
	if _, err := c.CoreV1().Pods("plugins").Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	want := "greeter: waiting: 0 of 2 replicas ready; pod greeter-1: image not found: ImagePullBackOff: g:404 not found\n"
	plugintest.Eventually(t, 10*time.Second, "the progress line", func() bool { return strings.Contains(stderr.String(), want) })
	markFakeReady(t, c, "plugins", "greeter")
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatal(r.err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("deploy did not return once ready")
	}
	if n := strings.Count(stderr.String(), want); n != 1 {
		t.Errorf("the same progress line printed %d times:\n%s", n, stderr.String())
	}
}

// inspect of a kube target lists every pod: name, IP, readiness, health
// and the interfaces its own Describe answers (pods that are not ready
// are listed, not asked).
func TestInspectKubeListsPods(t *testing.T) {
	port := servePod(t, "127.0.0.1", 0)
	servePod(t, "127.0.0.2", port)
	d := managedDeployment("plugins", "echo", 2)
	d.Spec.Template.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: port}}
	c := fake.NewClientset(d,
		fakePod("echo-a", "127.0.0.1", port, true), fakePod("echo-b", "127.0.0.2", port, true), fakePod("echo-c", "", port, false))
	fakeSlice(t, c, "plugins", "echo", 0)
	s, err := c.DiscoveryV1().EndpointSlices("plugins").Get(context.Background(), "echo-slice", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Ports[0].Port = &port
	for _, ip := range []string{"127.0.0.1", "127.0.0.2"} {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{ip}})
	}
	if _, err := c.DiscoveryV1().EndpointSlices("plugins").Update(context.Background(), s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	r := runWith(t, c, nil, "inspect", "kube://plugins/echo", "--insecure", "--timeout", "10s")
	if r.err != nil {
		t.Fatalf("inspect: %v\n%s", r.err, r.stdout)
	}
	for _, re := range []string{
		`(?m)^addresses:\s+tcp 127\.0\.0\.\d:\d+, tcp 127\.0\.0\.\d:\d+, plaintext$`,
		`(?m)^pods:\n\s+NAME\s+IP\s+READY\s+HEALTH\s+INTERFACES$`,
		`(?m)^\s+echo-a\s+127\.0\.0\.1\s+yes\s+SERVING\s+echo v1$`,
		`(?m)^\s+echo-b\s+127\.0\.0\.2\s+yes\s+SERVING\s+echo v1$`,
		`(?m)^\s+echo-c\s+-\s+no \(Pending\)\s+-\s+\(not ready\)$`,
	} {
		if !regexp.MustCompile(re).MatchString(r.stdout) {
			t.Errorf("inspect output does not match %s:\n%s", re, r.stdout)
		}
	}

	r = runWith(t, c, nil, "inspect", "kube://plugins/echo", "--insecure", "--json")
	var info inspection
	if err := json.Unmarshal([]byte(r.stdout), &info); r.err != nil || err != nil || len(info.Pods) != 3 ||
		info.Pods[0].Health != "SERVING" || info.Pods[2].DescribeError != "not ready" {
		t.Errorf("inspect --json: %v %v\n%s", r.err, err, r.stdout)
	}
	// call takes the same flags, and its calls reach the pods.
	r = runWith(t, c, nil, "call", "kube://plugins/echo", "tether.echo.v1.Echo/Unary", `{"text":"hi"}`, "--insecure")
	if r.err != nil || !regexp.MustCompile(`"text": "127\.0\.0\.[12]:hi"`).MatchString(r.stdout) {
		t.Errorf("call: %v\n%s", r.err, r.stdout)
	}
}

// servePod serves an in-process echo plugin in plaintext on ip:port (0: a
// free port) until the test ends, and returns the port.
func servePod(t *testing.T, ip string, port int32) int32 {
	t.Helper()
	lis, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(int(port))))
	if err != nil {
		t.Fatal(err)
	}
	inproc.ServeEcho(t, lis, plugintest.TaggedEcho{Tag: ip})
	return int32(lis.Addr().(*net.TCPAddr).Port)
}

// fakePod is a pod of plugin echo, with an IP and ready, or pending.
func fakePod(name, ip string, port int32, ready bool) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "plugins", Labels: map[string]string{
		kube.LabelManagedBy: kube.ManagedBy, kube.LabelPlugin: "echo"}},
		Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: "plugin", Ports: []corev1.ContainerPort{{ContainerPort: port}}}}},
		Status: corev1.PodStatus{Phase: corev1.PodPending, PodIP: ip}}
	if ready {
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	}
	return p
}

// The runtimes' log lines name the CLI's flags too: the plaintext warning
// says --insecure, not the Go option.
func TestLogNamesFlags(t *testing.T) {
	var b syncBuffer
	log := slog.New(flagNamingHandler{slog.NewTextHandler(&b, nil)}).With("plugin", "p")
	log.Warn("connecting to the plugin in plaintext (kube.WithInsecure): calls are neither encrypted nor authenticated")
	if out := b.String(); !strings.Contains(out, "plaintext (--insecure): calls") || !strings.Contains(out, "plugin=p") {
		t.Errorf("logged %q", out)
	}
}
