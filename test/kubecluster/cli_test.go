package kubecluster

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
)

// TestCLILikeKubectl: with a kubeconfig context whose namespace is the
// test's, tether kube deploys there without -n (printing its progress
// while it waits); tether inspect of the target lists each of its 3 pods
// with its IP, readiness, health and interface versions; --replicas 0
// deploys a plugin of no pod at once; ls and rm find both.
func TestCLILikeKubectl(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	c.tlsSecret(t, "greeter-tls", "greeter")
	kc := c.contextKubeconfig(t, "cli")
	cluster := []string{"--kubeconfig", kc, "--context", "cli"}
	tlsFlags := []string{"--tls-cert", c.hostCert, "--tls-key", c.hostKey, "--tls-ca", c.cas}

	out, err := c.tether(t, append([]string{"kube", "deploy", "greeter", "--image", greeterImage, "--port", "7000",
		"--replicas", "3", "--tls-secret", "greeter-tls", "--timeout", "2m"}, cluster...)...)
	if err != nil {
		t.Fatalf("kube deploy: %v\n%s", err, out)
	}
	if !strings.Contains(out, "greeter: waiting: ") || !strings.Contains(out, "greeter: 3 replicas ready; target kube://"+c.ns+"/greeter") {
		t.Errorf("kube deploy printed no progress, or not the context's namespace:\n%s", out)
	}

	out, err = c.tether(t, append(append([]string{"inspect", "kube://" + c.ns + "/greeter"}, cluster...), tlsFlags...)...)
	if err != nil {
		t.Fatalf("inspect: %v\n%s", err, out)
	}
	pod := regexp.MustCompile(`(?m)^\s+greeter-\S+\s+\d+\.\d+\.\d+\.\d+\s+yes\s+SERVING\s+greeter v1$`)
	if n := len(pod.FindAllString(out, -1)); n != 3 || !strings.Contains(out, "pods:") {
		t.Errorf("inspect lists %d ready, serving pods of greeter v1, want 3:\n%s", n, out)
	}

	out, err = c.tether(t, append([]string{"kube", "deploy", "idle", "--image", greeterImage, "--port", "7000",
		"--replicas", "0", "--tls-secret", "greeter-tls", "--timeout", "20s"}, cluster...)...)
	if err != nil || !strings.Contains(out, "idle: 0 replicas ready") {
		t.Fatalf("kube deploy --replicas 0: %v\n%s", err, out)
	}
	out, err = c.tether(t, append([]string{"kube", "ls", "--json"}, cluster...)...)
	var listed []struct {
		Name, Namespace string
		Ready, Desired  int
	}
	if err != nil || json.Unmarshal([]byte(out), &listed) != nil || len(listed) != 2 {
		t.Fatalf("kube ls: %v\n%s", err, out)
	}
	if g, i := listed[0], listed[1]; g.Name != "greeter" || g.Desired != 3 || i.Name != "idle" || i.Desired != 0 || i.Namespace != c.ns {
		t.Errorf("kube ls: %+v", listed)
	}
	out, err = c.tether(t, append([]string{"kube", "rm", "greeter", "idle"}, cluster...)...)
	if err != nil {
		t.Fatalf("kube rm: %v\n%s", err, out)
	}
	if left := c.managed(t); len(left) > 0 {
		t.Errorf("after kube rm: %v left", left)
	}
}

// contextKubeconfig writes a copy of the environment's kubeconfig with a
// context name whose namespace is the test's.
func (c *cluster) contextKubeconfig(t *testing.T, name string) string {
	t.Helper()
	kc, err := clientcmd.LoadFromFile(c.env.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	ctx := kc.Contexts[kc.CurrentContext].DeepCopy()
	ctx.Namespace = c.ns
	kc.Contexts[name] = ctx
	path := filepath.Join(c.dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return path
}
