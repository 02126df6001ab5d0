// Package kubecluster holds the kube runtime's tests against a real
// control plane (test/kubeenv: etcd, kube-apiserver, the controllers, the
// scheduler, and a node agent that runs pods as local processes on
// loopback addresses). It is a module of its own so that the tether module
// requires neither test/kubeenv nor a replace directive.
package kubecluster

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/tetherplug/tether"
	greeterv1 "github.com/tetherplug/tether/examples/greeter/greeterpb/v1"
	"github.com/tetherplug/tether/internal/certs"
	"github.com/tetherplug/tether/internal/plugintest"
	"github.com/tetherplug/tether/kube"
	"github.com/tetherplug/tether/test/kubeenv"
	"github.com/tetherplug/tether/test/kubeenv/nodeagent"
	"github.com/tetherplug/tether/tethertest"
)

// TestMain runs the tests on one shared control plane, then removes the
// programs they built.
func TestMain(m *testing.M) {
	code := kubeenv.Run(m, kubeenv.Options{Agent: func(ctx context.Context, cfg *rest.Config, n kubeenv.Node) error {
		return nodeagent.Run(ctx, cfg, nodeagent.Options{NodeName: n.Name, Images: n.Images, Resolve: n.Resolve,
			WorkDir: n.WorkDir, Logger: n.Logger})
	}})
	tethertest.Cleanup()
	os.Exit(code)
}

// rootDir is the tether module's directory, where the plugins and hosts
// the tests run are built, with the tether module's own requirements.
const rootDir = "../.."

// build builds the main package pkg of the tether module once per test
// binary and returns the program's path.
func build(t testing.TB, pkg string) string {
	t.Helper()
	return tethertest.BuildIn(t, rootDir, pkg)
}

const (
	greeterImage = "tether.test/greeter-en:v1"
	greeterPkg   = "github.com/tetherplug/tether/examples/greeter/plugins/greeter-en"
)

// cluster is one test's view of the control plane: its namespace, the
// greeter image, and the TLS material of plugins and hosts.
type cluster struct {
	env                    *kubeenv.Env
	ns                     string
	client                 kubernetes.Interface
	dir                    string
	hostCert, hostKey, cas string
}

func newCluster(t testing.TB) *cluster {
	t.Helper()
	env := kubeenv.Start(t)
	c := &cluster{env: env, ns: env.Namespace(t), client: env.Client(), dir: t.TempDir()}
	env.RegisterImage(greeterImage, build(t, greeterPkg))
	return c
}

// tlsSecret creates Secret name with a server certificate for the
// plugin's Service name, and writes the host's client certificate.
func (c *cluster) tlsSecret(t testing.TB, name, plugin string) {
	t.Helper()
	ca, err := certs.NewCA("test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ca.IssueServer(plugin, []string{kube.ServerName(plugin, c.ns)}, []net.IP{}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cli, err := ca.IssueClient("host", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	srvKey, _ := srv.KeyPEM()
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name},
		Data: map[string][]byte{"tls.crt": srv.CertPEM(), "tls.key": srvKey, "ca.crt": ca.CertPEM()}}
	if _, err := c.client.CoreV1().Secrets(c.ns).Create(t.Context(), sec, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.hostCert, c.hostKey, c.cas = filepath.Join(c.dir, "host.crt"), filepath.Join(c.dir, "host.key"), filepath.Join(c.dir, "ca.crt")
	if err := cli.WriteFiles(c.hostCert, c.hostKey, true); err != nil {
		t.Fatal(err)
	}
	if err := certs.WriteFile(c.cas, ca.CertPEM(), 0o644, true); err != nil {
		t.Fatal(err)
	}
}

// managed lists what carries tether's labels in the namespace.
func (c *cluster) managed(t testing.TB) []string {
	t.Helper()
	sel := metav1.ListOptions{LabelSelector: kube.ManagedSelector("")}
	var left []string
	ds, err := c.client.AppsV1().Deployments(c.ns).List(t.Context(), sel)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds.Items {
		left = append(left, "deployment/"+d.Name)
	}
	ss, err := c.client.CoreV1().Services(c.ns).List(t.Context(), sel)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range ss.Items {
		left = append(left, "service/"+s.Name)
	}
	return left
}

// tether runs the CLI with the cluster's kubeconfig.
func (c *cluster) tether(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, build(t, "github.com/tetherplug/tether/cmd/tether"), args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.env.Kubeconfig())
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestGreeterThreeReplicas is issue 10's first acceptance line: deploy the
// greeter with 3 replicas, see all ready; `tether kube ls` shows it with
// its interface versions and 3/3; `tether inspect kube://NS/greeter`
// works; `tether kube rm` leaves no object with tether's labels.
func TestGreeterThreeReplicas(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	c.tlsSecret(t, "greeter-tls", "greeter")
	tlsFlags := []string{"--tls-cert", c.hostCert, "--tls-key", c.hostKey, "--tls-ca", c.cas}
	out, err := c.tether(t, "kube", "deploy", "greeter", "-n", c.ns, "--image", greeterImage, "--port", "7000",
		"--replicas", "3", "--tls-secret", "greeter-tls", "--timeout", "2m")
	if err != nil {
		t.Fatalf("kube deploy: %v\n%s", err, out)
	}
	out, err = c.tether(t, append([]string{"kube", "ls", "-n", c.ns, "--json"}, tlsFlags...)...)
	if err != nil {
		t.Fatalf("kube ls: %v\n%s", err, out)
	}
	var listed []struct {
		Name           string
		Ready, Desired int
		Interfaces     map[string][]int
	}
	if err := json.Unmarshal([]byte(out), &listed); err != nil || len(listed) != 1 {
		t.Fatalf("kube ls --json: %v\n%s", err, out)
	}
	if p := listed[0]; p.Name != "greeter" || p.Ready != 3 || p.Desired != 3 || !slices.Equal(p.Interfaces["greeter"], []int{1}) {
		t.Errorf("kube ls: %+v, want greeter v1 and 3/3 replicas", p)
	}
	out, err = c.tether(t, append([]string{"inspect", "kube://" + c.ns + "/greeter"}, tlsFlags...)...)
	if err != nil || !strings.Contains(out, "greeter.v1.Greeter") {
		t.Fatalf("inspect: %v\n%s", err, out)
	}
	if addrs := addressesLine(out); strings.Count(addrs, "tcp ") != 3 {
		t.Errorf("inspect shows addresses %q, want the 3 pods':\n%s", addrs, out)
	}
	out, err = c.tether(t, "kube", "rm", "greeter", "-n", c.ns)
	if err != nil {
		t.Fatalf("kube rm: %v\n%s", err, out)
	}
	if left := c.managed(t); len(left) > 0 {
		t.Errorf("after kube rm: %v left", left)
	}
}

// addressesLine is the "addresses:" line of inspect's output.
func addressesLine(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(l, "addresses:"); ok {
			return rest
		}
	}
	return ""
}

// TestOpenCallsEveryPod: a host opens kube://NS/NAME deploying the greeter
// itself; its calls reach every pod (pod by pod, not one connection to a
// Service address), and Close removes what it deployed.
func TestOpenCallsEveryPod(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	c.tlsSecret(t, "g-tls", "g")
	client, err := tether.Open(t.Context(), "kube://"+c.ns+"/g", tether.WithInterface("greeter", 1),
		tether.WithStartTimeout(2*time.Minute), tether.WithLogger(slog.New(slog.DiscardHandler)),
		kube.WithKubeconfig(c.env.Kubeconfig()), kube.WithTLSFiles(c.hostCert, c.hostKey, c.cas),
		kube.WithDeploy(kube.Spec{Image: greeterImage, Replicas: new(int32(2)), Port: 7000, TLSSecret: "g-tls"}))
	if err != nil {
		t.Fatal(err)
	}
	plugintest.Eventually(t, time.Minute, "both pods admitted", func() bool {
		n := 0
		for _, in := range client.Instances() {
			if in.Admitted {
				n++
			}
		}
		return n == 2
	})
	greeter, err := tether.Dispense(client, "greeter", greeterv1.NewGreeterClient)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if _, err := greeter.Greet(t.Context(), &greeterv1.GreetRequest{Name: "pod"}); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}
	if left := c.managed(t); len(left) > 0 {
		t.Errorf("after Close: %v left", left)
	}
}

// TestNeverReadyFailsWithReason: a plugin whose pods never become ready
// (it never listens) fails the deploy within its timeout, saying so and
// quoting what the pod printed; nothing is left.
func TestNeverReadyFailsWithReason(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	c.env.RegisterImage("tether.test/echo:garbage", build(t, plugintest.EchoPlugin))
	start := time.Now()
	_, err := tether.Open(t.Context(), "kube://"+c.ns+"/deaf", tether.WithStartTimeout(2*time.Minute),
		kube.WithKubeconfig(c.env.Kubeconfig()), kube.WithInsecure(), kube.WithReadyTimeout(20*time.Second),
		kube.WithDeploy(kube.Spec{Image: "tether.test/echo:garbage", Port: 7000, Env: map[string]string{"ECHO_MODE": "garbage"}}))
	var nr *kube.NotReadyError
	if !errors.As(err, &nr) {
		t.Fatalf("Open: %v, want a NotReadyError", err)
	}
	if took := time.Since(start); took > 50*time.Second {
		t.Errorf("failed after %v, want about its 20s timeout", took)
	}
	if !strings.Contains(err.Error(), "hello, I am not a plugin") {
		t.Errorf("error %q does not quote the pod's output", err)
	}
	t.Logf("error: %v", err)
	if left := c.managed(t); len(left) > 0 {
		t.Errorf("after the failed deploy: %v left", left)
	}
}

// TestValidationCreatesNothing: a selector that does not match the pod
// template, or a TLS Secret that does not exist, is an error naming the
// field, and nothing is created.
func TestValidationCreatesNothing(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	labels := map[string]string{"app": "x"}
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "x"}, Spec: appsv1.DeploymentSpec{
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "other"}},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "p", Image: greeterImage,
				Ports: []corev1.ContainerPort{{ContainerPort: 7000}}}}}}}}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "x"}, Spec: corev1.ServiceSpec{Selector: labels,
		Ports: []corev1.ServicePort{{Port: 7000}}}}
	for _, tc := range []struct {
		name, field string
		spec        kube.Spec
	}{
		{"selector", "selector", kube.Spec{Name: "x", Deployment: dep, Service: svc}},
		{"secret", "tlsSecret", kube.Spec{Name: "y", Image: greeterImage, Port: 7000, TLSSecret: "no-such-secret"}},
	} {
		err := kube.Deploy(t.Context(), c.client, c.ns, tc.spec, kube.DeployOptions{})
		var fe *kube.FieldError
		if !errors.As(err, &fe) || !strings.Contains(strings.ToLower(fe.Field), strings.ToLower(tc.field)) {
			t.Errorf("%s: %v, want a FieldError naming %s", tc.name, err, tc.field)
		}
	}
	if left := c.managed(t); len(left) > 0 {
		t.Errorf("after refused deploys: %v created", left)
	}
}

// TestForbiddenNamesVerbAndResource: a service account whose Role lacks
// create on deployments gets an error naming the verb and the resource.
func TestForbiddenNamesVerbAndResource(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	ctx := t.Context()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "deployer"}}
	if _, err := c.client.CoreV1().ServiceAccounts(c.ns).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "read-only"}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{""}, Resources: []string{"services", "secrets", "pods"}, Verbs: []string{"get", "list", "watch", "create"}},
	}}
	if _, err := c.client.RbacV1().Roles(c.ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "read-only"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "read-only"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "deployer", Namespace: c.ns}}}
	if _, err := c.client.RbacV1().RoleBindings(c.ns).Create(ctx, rb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tok, err := c.client.CoreV1().ServiceAccounts(c.ns).CreateToken(ctx, "deployer", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := rest.AnonymousClientConfig(c.env.Config())
	cfg.BearerToken = tok.Status.Token
	sac, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = kube.Deploy(ctx, sac, c.ns, kube.Spec{Name: "greeter", Image: greeterImage, Port: 7000}, kube.DeployOptions{Insecure: true})
	if err == nil || !strings.Contains(err.Error(), "create") || !strings.Contains(err.Error(), "deployments") {
		t.Fatalf("deploy as a service account without create: %v, want an error naming create and deployments", err)
	}
	t.Logf("error: %v", err)
}

// TestHostInClusterPod: a host running as a pod, with the in-cluster
// configuration of a service account bound to deploy/rbac.yaml's Role (the
// minimal one the docs ship), deploys the greeter, calls it and removes it.
func TestHostInClusterPod(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	ctx := t.Context()
	c.env.RegisterImage("tether.test/kubehost:v1", build(t, "github.com/tetherplug/tether/test/hosts/kubehost"))
	applyRBAC(t, c)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "host"}, Spec: corev1.PodSpec{
		ServiceAccountName: "tether-host", RestartPolicy: corev1.RestartPolicyNever,
		Containers: []corev1.Container{{Name: "host", Image: "tether.test/kubehost:v1",
			Args: []string{c.ns, "greeter-ic", greeterImage},
			// The node agent mounts volumes in a directory of the pod's and
			// rewrites paths under a mount to it; see kube.EnvServiceAccountDir.
			Env: []corev1.EnvVar{{Name: kube.EnvServiceAccountDir, Value: "/var/run/secrets/kubernetes.io/serviceaccount"}}}}}}
	if _, err := c.client.CoreV1().Pods(c.ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var phase corev1.PodPhase
	plugintest.Eventually(t, 2*time.Minute, "the host pod finished", func() bool {
		p, err := c.client.CoreV1().Pods(c.ns).Get(ctx, "host", metav1.GetOptions{})
		if err == nil {
			phase = p.Status.Phase
		}
		return phase == corev1.PodSucceeded || phase == corev1.PodFailed
	})
	logs, err := c.client.CoreV1().Pods(c.ns).GetLogs("host", &corev1.PodLogOptions{}).DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if phase != corev1.PodSucceeded || !strings.Contains(string(logs), "answer: Hello, cluster!") {
		t.Fatalf("host pod %s, printed:\n%s", phase, logs)
	}
	plugintest.Eventually(t, time.Minute, "the host's plugin removed", func() bool { return len(c.managed(t)) == 0 })
}

// applyRBAC creates the service account, Role and RoleBinding of
// deploy/rbac.yaml in the test's namespace.
func applyRBAC(t *testing.T, c *cluster) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(rootDir, "deploy", "rbac.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for _, doc := range strings.Split(strings.ReplaceAll(string(b), "NAMESPACE", c.ns), "\n---") {
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatal(err)
		}
		switch meta.Kind {
		case "ServiceAccount":
			var sa corev1.ServiceAccount
			mustYAML(t, doc, &sa)
			_, err = c.client.CoreV1().ServiceAccounts(c.ns).Create(ctx, &sa, metav1.CreateOptions{})
		case "Role":
			var r rbacv1.Role
			mustYAML(t, doc, &r)
			_, err = c.client.RbacV1().Roles(c.ns).Create(ctx, &r, metav1.CreateOptions{})
		case "RoleBinding":
			var rb rbacv1.RoleBinding
			mustYAML(t, doc, &rb)
			_, err = c.client.RbacV1().RoleBindings(c.ns).Create(ctx, &rb, metav1.CreateOptions{})
		default:
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", meta.Kind, err)
		}
	}
}

func mustYAML(t *testing.T, doc string, v any) {
	t.Helper()
	if err := yaml.UnmarshalStrict([]byte(doc), v); err != nil {
		t.Fatal(err)
	}
}
