package kubecluster

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tetherplug/tether"
	greeterv1 "github.com/tetherplug/tether/examples/greeter/greeterpb/v1"
	"github.com/tetherplug/tether/kube"
	"github.com/tetherplug/tether/tethertest"
)

// TestPortForwardCallsEveryPod is issue 16's port-forward acceptance line:
// a host that can reach no pod's port (a process of its own that Landlock
// lets connect to the API server's port alone, as a laptop outside the pod
// network reaches the API server and nothing else) calls every one of 3
// pods with kube.WithPortForward: the API server proxies pods/portforward
// to the node's kubelet endpoint (the node agent's), with mutual TLS end to
// end. Every endpoint is a port-forward one, and balancing stays pod by
// pod: the calls land on all 3. The same host without the option fails,
// naming the remedy. `tether call`, `tether inspect` and `tether kube ls`
// with --port-forward work from there too.
func TestPortForwardCallsEveryPod(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	c.tlsSecret(t, "pf-tls", "pf")
	if err := kube.Deploy(t.Context(), c.client, c.ns, kube.Spec{Name: "pf", Image: greeterImage, Replicas: new(int32(3)), Port: 7000, TLSSecret: "pf-tls"},
		kube.DeployOptions{}); err != nil {
		t.Fatal(err)
	}
	pods := podIPs(t, c)
	host := []string{tethertest.BuildIn(t, ".", "github.com/tetherplug/tether/test/kubecluster/internal/pfhost"),
		"-target", "kube://" + c.ns + "/pf", "-kubeconfig", c.env.Kubeconfig(),
		"-tls-cert", c.hostCert, "-tls-key", c.hostKey, "-tls-ca", c.cas}
	out, stderr, err := c.connectOnlyAPI(t, append(host, "-port-forward")...)
	if err != nil {
		t.Fatalf("host with the port-forward: %v\n%s", err, stderr)
	}
	var r struct {
		Instances []struct {
			Network, Address string
			Admitted         bool
		}
		Peers map[string]int
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("host's report %q: %v", out, err)
	}
	for _, in := range r.Instances {
		if in.Network != kube.PortForwardNetwork || pods[in.Address] == "" || !in.Admitted {
			t.Errorf("instance %+v: want an admitted pod on network %q", in, kube.PortForwardNetwork)
		}
	}
	hits := map[string]int{}
	for p, n := range r.Peers {
		network, addr, _ := strings.Cut(p, " ")
		if network != kube.PortForwardNetwork {
			t.Errorf("%d calls went to %s, not a pod reached through the port-forward", n, p)
		}
		hits[pods[addr]] += n
	}
	if len(r.Instances) != 3 || len(hits) != 3 || hits[""] > 0 {
		t.Errorf("instances %+v, calls on %v; want the 3 pods %v and calls on each", r.Instances, hits, pods)
	}

	_, stderr, err = c.connectOnlyAPI(t, append(host, "-timeout", "20s")...)
	if want := "pod IPs are not reachable from here"; err == nil || !strings.Contains(stderr, want) ||
		!strings.Contains(stderr, "kube.WithPortForward() (tether inspect|call --port-forward)") {
		t.Errorf("the same host without the port-forward: %v\n%s\nwant it to say %q and name the remedy", err, stderr, want)
	}
	t.Run("shipped role", func(t *testing.T) { portForwardRoles(t, c) })
	t.Run("cli", func(t *testing.T) {
		cli := []string{build(t, "github.com/tetherplug/tether/cmd/tether")}
		tlsFlags := []string{"--tls-cert", c.hostCert, "--tls-key", c.hostKey, "--tls-ca", c.cas, "--timeout", "90s"}
		out, stderr, err := c.connectOnlyAPI(t, slices.Concat(cli, []string{"call", "kube://" + c.ns + "/pf", "greeter.v1.Greeter/Greet",
			`{"name":"Ada"}`, "--port-forward"}, tlsFlags)...)
		if err != nil || !strings.Contains(out, "Hello, Ada!") {
			t.Errorf("tether call --port-forward: %v\n%s%s", err, out, stderr)
		}
		out, stderr, err = c.connectOnlyAPI(t, slices.Concat(cli, []string{"inspect", "kube://" + c.ns + "/pf", "--port-forward"}, tlsFlags)...)
		if err != nil {
			t.Fatalf("tether inspect --port-forward: %v\n%s%s", err, out, stderr)
		}
		if addrs := addressesLine(out); strings.Count(addrs, kube.PortForwardNetwork+" ") != 3 {
			t.Errorf("inspect --port-forward shows addresses %q, want the 3 pods' through the port-forward:\n%s", addrs, out)
		}
		out, stderr, err = c.connectOnlyAPI(t, slices.Concat(cli, []string{"kube", "ls", "-n", c.ns, "--json", "--port-forward"}, tlsFlags)...)
		var listed []struct {
			Name       string
			Interfaces map[string][]int
		}
		if err != nil || json.Unmarshal([]byte(out), &listed) != nil || len(listed) != 1 || !slices.Equal(listed[0].Interfaces["greeter"], []int{1}) {
			t.Errorf("tether kube ls --port-forward: %v, want pf described as greeter v1:\n%s%s", err, out, stderr)
		}
	})
}

// connectOnlyAPI runs args under connectonly, which lets the process
// connect to the API server's port alone, with the cluster's kubeconfig as
// $KUBECONFIG, and returns its stdout and stderr. It skips the test where
// the kernel cannot restrict connections (Landlock before Linux 6.7).
func (c *cluster) connectOnlyAPI(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	api, err := url.Parse(c.env.Config().Host)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	wrapper := tethertest.BuildIn(t, ".", "github.com/tetherplug/tether/test/kubecluster/internal/connectonly")
	cmd := exec.CommandContext(ctx, wrapper, append([]string{api.Port()}, args...)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.env.Kubeconfig())
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s has not returned within 3 minutes:\n%s", strings.Join(args, " "), stderr.String())
	}
	if cmd.ProcessState.ExitCode() == 3 && strings.HasPrefix(stderr.String(), "connectonly:") {
		t.Skipf("cannot make a host that reaches no pod here: %s", stderr.String())
	}
	return stdout.String(), stderr.String(), err
}

// podIPs maps the "ip:7000" of each pod of plugin pf to its name.
func podIPs(t *testing.T, c *cluster) map[string]string {
	t.Helper()
	list, err := c.client.CoreV1().Pods(c.ns).List(t.Context(), metav1.ListOptions{LabelSelector: kube.ManagedSelector("pf")})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, p := range list.Items {
		if p.Status.PodIP != "" {
			m[p.Status.PodIP+":7000"] = p.Name
		}
	}
	if len(m) != 3 {
		t.Fatalf("pods of pf: %v, want 3 with an IP", m)
	}
	return m
}

// portForwardRoles: a host with exactly the shipped Role reaches the pods
// through the port-forward; one whose Role lacks create on
// pods/portforward fails Open at once with ErrHost, a PortForwardError
// naming the pod and what the account lacks, not at its start timeout.
func portForwardRoles(t *testing.T, c *cluster) {
	role := shippedRole(t, c.ns)
	_, kubeconfig := c.account(t, "pf-host", role.Rules)
	opts := []tether.Option{tether.WithInterface("greeter", 1), tether.WithStartTimeout(time.Minute),
		tether.WithLogger(slog.New(slog.DiscardHandler)), kube.WithTLSFiles(c.hostCert, c.hostKey, c.cas), kube.WithPortForward()}
	client, _, err := openWithin(t, 2*time.Minute, "kube://"+c.ns+"/pf", append(opts, kube.WithKubeconfig(kubeconfig))...)
	if err != nil {
		t.Fatalf("Open through the port-forward with the shipped Role: %v", err)
	}
	greeter, err := tether.Dispense(client, "greeter", greeterv1.NewGreeterClient)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := greeter.Greet(t.Context(), &greeterv1.GreetRequest{Name: "role"}); err != nil {
		t.Errorf("call through the port-forward with the shipped Role: %v", err)
	}
	_ = client.Close()

	var rules []rbacv1.PolicyRule
	for _, r := range role.Rules {
		if !slices.Contains(r.Resources, "pods/portforward") {
			rules = append(rules, r)
		}
	}
	if len(rules) == len(role.Rules) {
		t.Fatal("deploy/rbac.yaml grants no pods/portforward")
	}
	_, kubeconfig = c.account(t, "pf-denied", rules)
	_, took, err := openWithin(t, 2*time.Minute, "kube://"+c.ns+"/pf", append(opts, kube.WithKubeconfig(kubeconfig))...)
	var pe *kube.PortForwardError
	if !errors.Is(err, tether.ErrHost) || !errors.As(err, &pe) || !strings.Contains(err.Error(), "which needs `create` on pods/portforward") {
		t.Fatalf("Open through the port-forward without create on pods/portforward: %v, want ErrHost with a PortForwardError", err)
	}
	if took > kube.PodDialTimeout+20*time.Second {
		t.Errorf("Open failed after %v, want about kube.PodDialTimeout (%v), well before its start timeout", took, kube.PodDialTimeout)
	}
	t.Logf("error: %v", err)
}
