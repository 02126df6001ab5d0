package kubecluster

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/tetherplug/tether"
	greeterv1 "github.com/tetherplug/tether/examples/greeter/greeterpb/v1"
	"github.com/tetherplug/tether/internal/plugintest"
	"github.com/tetherplug/tether/kube"
)

// shippedRole is the Role of deploy/rbac.yaml, with its namespace set.
func shippedRole(t *testing.T, ns string) rbacv1.Role {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(rootDir, "deploy", "rbac.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(strings.ReplaceAll(string(b), "NAMESPACE", ns), "\n---") {
		var r rbacv1.Role
		mustYAML(t, doc, &r)
		if r.Kind == "Role" {
			return r
		}
	}
	t.Fatal("deploy/rbac.yaml has no Role")
	return rbacv1.Role{}
}

// account creates service account name bound to a Role of rules, and
// returns a client authenticated as it and a kubeconfig file for it.
func (c *cluster) account(t *testing.T, name string, rules []rbacv1.PolicyRule) (kubernetes.Interface, string) {
	t.Helper()
	ctx := t.Context()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := c.client.CoreV1().ServiceAccounts(c.ns).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}
	if _, err := c.client.RbacV1().Roles(c.ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: c.ns}}}
	if _, err := c.client.RbacV1().RoleBindings(c.ns).Create(ctx, rb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tok, err := c.client.CoreV1().ServiceAccounts(c.ns).CreateToken(ctx, name, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := rest.AnonymousClientConfig(c.env.Config())
	cfg.BearerToken = tok.Status.Token
	sac, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters["test"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: c.env.CAPEM()}
	kc.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: tok.Status.Token}
	kc.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: name, Namespace: c.ns}
	kc.CurrentContext = "test"
	path := filepath.Join(c.dir, name+".kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return sac, path
}

// tetherAs runs the CLI with kubeconfig as $KUBECONFIG, bounded by limit:
// the test fails if the CLI has not returned by then.
func (c *cluster) tetherAs(t *testing.T, kubeconfig string, limit time.Duration, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, build(t, "github.com/tetherplug/tether/cmd/tether"), args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("tether %s has not returned within %v:\n%s", strings.Join(args, " "), limit, out)
	}
	return string(out), err
}

// openWithin runs tether.Open and fails the test if it has not returned
// within limit (before the fix, an Open whose account may not list
// EndpointSlices never returned).
func openWithin(t *testing.T, limit time.Duration, target string, opts ...tether.Option) (*tether.Client, time.Duration, error) {
	t.Helper()
	type result struct {
		c   *tether.Client
		err error
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		c, err := tether.Open(context.Background(), target, opts...)
		done <- result{c, err}
	}()
	select {
	case r := <-done:
		return r.c, time.Since(start), r.err
	case <-time.After(limit):
		t.Fatalf("Open of %s has not returned after %v", target, limit)
		return nil, 0, nil
	}
}

// TestSlicesForbiddenEndsOpenAndInspect is issue 16's first acceptance
// line: with a Role without list on endpointslices, Open (deploying) and
// `tether inspect` fail within the start timeout with an error naming the
// verb and resource, and nothing created is left behind.
func TestSlicesForbiddenEndsOpenAndInspect(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	role := shippedRole(t, c.ns)
	rules := slices.DeleteFunc(role.Rules, func(r rbacv1.PolicyRule) bool { return slices.Contains(r.APIGroups, "discovery.k8s.io") })
	sac, kubeconfig := c.account(t, "noslices", rules)
	const startTimeout = time.Minute
	_, took, err := openWithin(t, 2*startTimeout, "kube://"+c.ns+"/g", tether.WithStartTimeout(startTimeout),
		tether.WithLogger(slog.New(slog.DiscardHandler)), kube.WithClient(sac), kube.WithInsecure(),
		kube.WithDeploy(kube.Spec{Image: greeterImage, Port: 7000}))
	var ae *kube.APIError
	if !errors.Is(err, tether.ErrHost) || !errors.As(err, &ae) || ae.Verb != "list" || !apierrors.IsForbidden(err) {
		t.Fatalf("Open: %v, want ErrHost with a Forbidden *kube.APIError on list", err)
	}
	want := "may not list endpointslices.discovery.k8s.io in namespace " + c.ns
	if !strings.Contains(err.Error(), want) {
		t.Errorf("Open: %q does not say %q", err, want)
	}
	if took >= startTimeout {
		t.Errorf("Open took %v, more than its start timeout", took)
	}
	t.Logf("Open failed after %v: %v", took, err)
	if left := c.managed(t); len(left) > 0 {
		t.Errorf("after the failed Open: %v left", left)
	}

	// inspect of a deployed plugin, as the same account.
	if err := kube.Deploy(t.Context(), c.client, c.ns, kube.Spec{Name: "g2", Image: greeterImage, Port: 7000},
		kube.DeployOptions{Insecure: true}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	out, err := c.tetherAs(t, kubeconfig, 90*time.Second, "inspect", "kube://"+c.ns+"/g2", "--insecure", "--timeout", "30s")
	if err == nil || !strings.Contains(out, want) {
		t.Errorf("inspect as an account without list on endpointslices: %v, want an error saying %q:\n%s", err, want, out)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("inspect took %v, more than its --timeout", took)
	}
	start = time.Now()
	out, err = c.tetherAs(t, kubeconfig, 90*time.Second, "call", "kube://"+c.ns+"/g2", "greeter.v1.Greeter/Greet",
		`{"name":"x"}`, "--insecure", "--timeout", "30s")
	if err == nil || !strings.Contains(out, want) {
		t.Errorf("call as an account without list on endpointslices: %v, want an error saying %q:\n%s", err, want, out)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("call took %v, more than its --timeout", took)
	}
}

// TestScaledToZeroSaysNoEndpoints: a plugin scaled to 0 makes calls fail
// with ErrUnavailable saying its Service has no ready endpoints (not a
// stale connection error of a pod that is gone), a new Open fails at once
// saying so (not after its start timeout), and deploying it again brings
// it back under the same client.
func TestScaledToZeroSaysNoEndpoints(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	ctx := t.Context()
	if err := kube.Deploy(ctx, c.client, c.ns, kube.Spec{Name: "z", Image: greeterImage, Port: 7000},
		kube.DeployOptions{Insecure: true}); err != nil {
		t.Fatal(err)
	}
	opts := []tether.Option{tether.WithInterface("greeter", 1), tether.WithStartTimeout(time.Minute),
		tether.WithLogger(slog.New(slog.DiscardHandler)), kube.WithKubeconfig(c.env.Kubeconfig()), kube.WithInsecure()}
	client, _, err := openWithin(t, 2*time.Minute, "kube://"+c.ns+"/z", opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	greeter, err := tether.Dispense(client, "greeter", greeterv1.NewGreeterClient)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := greeter.Greet(ctx, &greeterv1.GreetRequest{Name: "z"}); err != nil {
		t.Fatal(err)
	}
	scale, err := c.client.AppsV1().Deployments(c.ns).GetScale(ctx, "z", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	scale.Spec.Replicas = 0
	if _, err := c.client.AppsV1().Deployments(c.ns).UpdateScale(ctx, "z", scale, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	want := "the Service z in namespace " + c.ns + " has no ready endpoints"
	var last error
	plugintest.Eventually(t, time.Minute, "a call saying the Service has no ready endpoints", func() bool {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_, last = greeter.Greet(cctx, &greeterv1.GreetRequest{Name: "z"})
		return last != nil && strings.Contains(last.Error(), want)
	})
	var ne *kube.NoEndpointsError
	if !errors.Is(last, tether.ErrUnavailable) || !errors.As(last, &ne) {
		t.Errorf("call at 0 replicas: %v, want ErrUnavailable with a *kube.NoEndpointsError", last)
	}
	t.Logf("call at 0 replicas: %v", last)

	_, took, err := openWithin(t, 2*time.Minute, "kube://"+c.ns+"/z", opts...)
	if !errors.Is(err, tether.ErrUnavailable) || !errors.As(err, &ne) ||
		!strings.Contains(err.Error(), want+": its Deployment is scaled to 0 replicas") {
		t.Errorf("Open at 0 replicas: %v, want ErrUnavailable saying %q: its Deployment is scaled to 0 replicas", err, want)
	}
	if took > 20*time.Second {
		t.Errorf("Open at 0 replicas took %v, want no wait for its 1m start timeout", took)
	}

	// Deploying it again applies its spec, which brings the replica back.
	if err := kube.Deploy(ctx, c.client, c.ns, kube.Spec{Name: "z", Image: greeterImage, Port: 7000},
		kube.DeployOptions{Insecure: true, ReadyTimeout: time.Minute}); err != nil {
		t.Fatalf("second deploy: %v", err)
	}
	plugintest.Eventually(t, time.Minute, "a call after the plugin was deployed again", func() bool {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_, last = greeter.Greet(cctx, &greeterv1.GreetRequest{Name: "z"})
		return last == nil
	})
}

// unroutableIPv6 is a documentation address (RFC 3849) to which this
// machine has no route: a dial to it fails with EHOSTUNREACH; the test
// that uses it skips where it does not.
const unroutableIPv6 = "2001:db8::1"

// TestUnreachablePodIPs: the API says the plugin's pods are ready but the
// host cannot reach their IPs (here the Service's only ready endpoint is
// an address without a route): Open fails within kube.PodDialTimeout, not
// at its start timeout, saying pod IPs are not reachable from here.
func TestUnreachablePodIPs(t *testing.T) {
	t.Parallel()
	probe := &net.Dialer{Timeout: kube.PodDialTimeout}
	if conn, err := probe.Dial("tcp", net.JoinHostPort(unroutableIPv6, "7000")); err == nil || !errors.Is(err, syscall.EHOSTUNREACH) && !errors.Is(err, syscall.ENETUNREACH) {
		if conn != nil {
			conn.Close()
		}
		t.Skipf("a dial to %s does not fail with no route here: %v", unroutableIPv6, err)
	}
	c := newCluster(t)
	ctx := t.Context()
	if err := kube.Deploy(ctx, c.client, c.ns, kube.Spec{Name: "u", Image: greeterImage, Port: 7000},
		kube.DeployOptions{Insecure: true}); err != nil {
		t.Fatal(err)
	}
	// The Service without a selector: the EndpointSlice controller leaves
	// it, and its only slice is one written here, as for an address that
	// the pod network has and this host has no route to.
	svc, err := c.client.CoreV1().Services(c.ns).Get(ctx, "u", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svc.Spec.Selector = nil
	if _, err := c.client.CoreV1().Services(c.ns).Update(ctx, svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	sel := metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=u"}
	if err := c.client.DiscoveryV1().EndpointSlices(c.ns).DeleteCollection(ctx, metav1.DeleteOptions{}, sel); err != nil {
		t.Fatal(err)
	}
	port, ready := int32(7000), true
	s := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "u-far", Labels: map[string]string{"kubernetes.io/service-name": "u"}},
		AddressType: discoveryv1.AddressTypeIPv6, Ports: []discoveryv1.EndpointPort{{Port: &port}},
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{unroutableIPv6}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}}}
	if _, err := c.client.DiscoveryV1().EndpointSlices(c.ns).Create(ctx, s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, took, err := openWithin(t, 2*time.Minute, "kube://"+c.ns+"/u", tether.WithStartTimeout(time.Minute),
		tether.WithLogger(slog.New(slog.DiscardHandler)), kube.WithKubeconfig(c.env.Kubeconfig()), kube.WithInsecure())
	var ue *kube.UnreachableError
	if !errors.Is(err, tether.ErrHost) || !errors.As(err, &ue) || !strings.Contains(err.Error(), "pod IPs are not reachable from here") {
		t.Fatalf("Open of a plugin whose pod IPs have no route: %v, want ErrHost saying pod IPs are not reachable from here", err)
	}
	if took > kube.PodDialTimeout+20*time.Second {
		t.Errorf("Open took %v, want about kube.PodDialTimeout (%v), well before its 1m start timeout", took, kube.PodDialTimeout)
	}
	t.Logf("Open failed after %v: %v", took, err)
}
