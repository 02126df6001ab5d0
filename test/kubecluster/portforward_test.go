package kubecluster

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/peer"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tetherplug/tether"
	greeterv1 "github.com/tetherplug/tether/examples/greeter/greeterpb/v1"
	"github.com/tetherplug/tether/internal/plugintest"
	"github.com/tetherplug/tether/kube"
)

// TestPortForwardCallsEveryPod is issue 16's port-forward acceptance line:
// with kube.WithPortForward a host reaches each of 3 pods through the API
// server's pods/portforward, which the API server proxies to the node's
// kubelet endpoint (the node agent's), with mutual TLS end to end. The
// host dials no pod IP: every endpoint is a port-forward one, and every
// call's peer is a pod reached through the tunnel. Balancing stays pod by
// pod: the calls land on all 3. `tether call --port-forward` and `tether
// inspect --port-forward` work the same way.
func TestPortForwardCallsEveryPod(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	c.tlsSecret(t, "pf-tls", "pf")
	ctx := t.Context()
	if err := kube.Deploy(ctx, c.client, c.ns, kube.Spec{Name: "pf", Image: greeterImage, Replicas: 3, Port: 7000, TLSSecret: "pf-tls"},
		kube.DeployOptions{}); err != nil {
		t.Fatal(err)
	}
	pods := podIPs(t, c)
	client, err := tether.Open(ctx, "kube://"+c.ns+"/pf", tether.WithInterface("greeter", 1),
		tether.WithStartTimeout(2*time.Minute), tether.WithLogger(slog.New(slog.DiscardHandler)),
		kube.WithKubeconfig(c.env.Kubeconfig()), kube.WithTLSFiles(c.hostCert, c.hostKey, c.cas), kube.WithPortForward())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	plugintest.Eventually(t, time.Minute, "the 3 pods admitted", func() bool {
		n := 0
		for _, in := range client.Instances() {
			if in.Admitted {
				n++
			}
		}
		return n == 3
	})
	for _, in := range client.Instances() {
		if in.Network != kube.PortForwardNetwork || pods[in.Address] == "" {
			t.Errorf("instance %s %s: want a pod's address on network %q", in.Network, in.Address, kube.PortForwardNetwork)
		}
	}
	greeter, err := tether.Dispense(client, "greeter", greeterv1.NewGreeterClient)
	if err != nil {
		t.Fatal(err)
	}
	hits := map[string]int{}
	for i := range 30 {
		var p peer.Peer
		cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		_, err := greeter.Greet(cctx, &greeterv1.GreetRequest{Name: "pod"}, grpc.Peer(&p))
		cancel()
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if p.Addr == nil || p.Addr.Network() != kube.PortForwardNetwork {
			t.Fatalf("call %d went to %v, want a pod reached through the port-forward", i, p.Addr)
		}
		hits[pods[p.Addr.String()]]++
	}
	if len(hits) != 3 || hits[""] > 0 {
		t.Errorf("30 calls landed on %v, want all 3 pods %v", hits, pods)
	}
	t.Run("shipped role", func(t *testing.T) { portForwardRoles(t, c) })
	t.Run("cli", func(t *testing.T) {
		tlsFlags := []string{"--tls-cert", c.hostCert, "--tls-key", c.hostKey, "--tls-ca", c.cas, "--timeout", "90s"}
		out, err := c.tether(t, append([]string{"call", "kube://" + c.ns + "/pf", "greeter.v1.Greeter/Greet", `{"name":"Ada"}`,
			"--port-forward"}, tlsFlags...)...)
		if err != nil || !strings.Contains(out, "Hello, Ada!") {
			t.Errorf("tether call --port-forward: %v\n%s", err, out)
		}
		out, err = c.tether(t, append([]string{"inspect", "kube://" + c.ns + "/pf", "--port-forward"}, tlsFlags...)...)
		if err != nil {
			t.Fatalf("tether inspect --port-forward: %v\n%s", err, out)
		}
		if addrs := addressesLine(out); strings.Count(addrs, kube.PortForwardNetwork+" ") != 3 {
			t.Errorf("inspect --port-forward shows addresses %q, want the 3 pods' through the port-forward:\n%s", addrs, out)
		}
	})
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
