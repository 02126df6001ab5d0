package kubecluster

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tetherplug/tether"
	greeterv1 "github.com/tetherplug/tether/examples/greeter/greeterpb/v1"
	"github.com/tetherplug/tether/internal/plugintest"
	"github.com/tetherplug/tether/kube"
)

// leftOf lists the Deployments, Services and pods of plugin name.
func (c *cluster) leftOf(t *testing.T, name string) []string {
	t.Helper()
	ctx, sel := t.Context(), metav1.ListOptions{LabelSelector: kube.ManagedSelector(name)}
	var left []string
	ds, err := c.client.AppsV1().Deployments(c.ns).List(ctx, sel)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds.Items {
		left = append(left, "deployment/"+d.Name)
	}
	ss, err := c.client.CoreV1().Services(c.ns).List(ctx, sel)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range ss.Items {
		left = append(left, "service/"+s.Name)
	}
	ps, err := c.client.CoreV1().Pods(c.ns).List(ctx, sel)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps.Items {
		left = append(left, "pod/"+p.Name)
	}
	return left
}

// leaseOwners are the names of the Leases that own plugin name's Deployment.
func (c *cluster) leaseOwners(t *testing.T, name string) []string {
	t.Helper()
	d, err := c.client.AppsV1().Deployments(c.ns).Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, o := range d.OwnerReferences {
		if o.Kind == "Lease" {
			out = append(out, o.Name)
		}
	}
	return out
}

// greetN makes n calls through client, failing the test on any error.
func greetN(t *testing.T, client *tether.Client, n int, who string) {
	t.Helper()
	greeter, err := tether.Dispense(client, "greeter", greeterv1.NewGreeterClient)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		_, err := greeter.Greet(ctx, &greeterv1.GreetRequest{Name: who})
		cancel()
		if err != nil {
			t.Fatalf("%s: call %d: %v", who, i, err)
		}
	}
}

// TestThreeHostsShareOnePlugin is issue 16's item 2: three hosts (three
// clients, each with its own API client) Open(WithDeploy) one target at
// once; all three succeed on one Deployment that lists their three Leases
// as owners; closing the first two leaves the third's calls working;
// closing the third removes the Deployment, the Service and the pods
// before Close returns.
func TestThreeHostsShareOnePlugin(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	c.tlsSecret(t, "g-tls", "g")
	spec := kube.Spec{Image: greeterImage, Replicas: new(int32(2)), Port: 7000, TLSSecret: "g-tls"}
	clients := make([]*tether.Client, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
			defer cancel()
			clients[i], errs[i] = tether.Open(ctx, "kube://"+c.ns+"/g", tether.WithInterface("greeter", 1),
				tether.WithStartTimeout(2*time.Minute), tether.WithLogger(slog.New(slog.DiscardHandler)),
				kube.WithKubeconfig(c.env.Kubeconfig()), kube.WithTLSFiles(c.hostCert, c.hostKey, c.cas), kube.WithDeploy(spec))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("host %d: %v", i, err)
		}
	}
	if owners := c.leaseOwners(t, "g"); len(owners) != 3 {
		t.Fatalf("the Deployment's Lease owners: %v, want the 3 hosts'", owners)
	}
	for i, cl := range clients {
		greetN(t, cl, 3, "host"+string(rune('1'+i)))
	}
	for _, cl := range clients[:2] {
		if err := cl.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if left := c.leftOf(t, "g"); !strings.Contains(strings.Join(left, " "), "deployment/g") {
		t.Fatalf("after 2 of 3 hosts closed: %v, want the plugin running", left)
	}
	greetN(t, clients[2], 20, "host3")
	start := time.Now()
	if err := clients[2].Close(); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if left := c.leftOf(t, "g"); len(left) > 0 {
		t.Errorf("after the last host's Close (%v): %v left", took, left)
	}
	if took > 30*time.Second {
		t.Errorf("the last host's Close took %v, want the plugin gone within 30s", took)
	}
	t.Logf("the last Close removed the plugin in %v", took)
}

// holder is a kubehold process holding a plugin open.
type holder struct{ cmd *exec.Cmd }

// hold starts kubehold on plugin name and waits until it holds it (it
// runs in a goroutine of the test: it returns its failure).
func (c *cluster) hold(t *testing.T, name string) (*holder, error) {
	cmd := exec.Command(build(t, "github.com/tetherplug/tether/test/hosts/kubehold"), c.ns, name, greeterImage)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.env.Kubeconfig())
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	held := make(chan bool, 1)
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			if s.Text() == "holding" {
				held <- true
				return
			}
		}
		held <- false
	}()
	select {
	case ok := <-held:
		if !ok {
			return nil, fmt.Errorf("kubehold %s exited without holding the plugin", name)
		}
	case <-time.After(3 * time.Minute):
		return nil, fmt.Errorf("kubehold %s has not held the plugin within 3 minutes", name)
	}
	return &holder{cmd: cmd}, nil
}

// TestKilledHostPluginRemoved: a host process holding plugin "orphan"
// alone, and one holding "kept" with a client of this test, are killed
// with SIGKILL. The test's client, holding a plugin of the namespace,
// deletes their expired Leases: "orphan" is removed by the garbage
// collector within the bound docs/kubernetes.md states (LeaseDuration +
// LeaseRenewPeriod, and the collector's removal), and "kept" keeps serving
// the test's client, whose Close then removes it although the killed host
// had listed its Lease among the owners.
func TestKilledHostPluginRemoved(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	build(t, "github.com/tetherplug/tether/test/hosts/kubehold")
	var orphan, kept *holder
	var oerr, kerr error
	var wg sync.WaitGroup
	wg.Go(func() { orphan, oerr = c.hold(t, "orphan") })
	wg.Go(func() { kept, kerr = c.hold(t, "kept") })
	wg.Wait()
	if oerr != nil || kerr != nil {
		t.Fatal(oerr, kerr)
	}
	client, _, err := openWithin(t, 3*time.Minute, "kube://"+c.ns+"/kept", tether.WithInterface("greeter", 1),
		tether.WithStartTimeout(2*time.Minute), tether.WithLogger(slog.New(slog.DiscardHandler)),
		kube.WithKubeconfig(c.env.Kubeconfig()), kube.WithInsecure(),
		kube.WithDeploy(kube.Spec{Image: greeterImage, Port: 7000, Replicas: new(int32(1))}))
	if err != nil {
		t.Fatal(err)
	}
	if owners := c.leaseOwners(t, "kept"); len(owners) != 2 {
		t.Errorf("kept's Lease owners: %v, want the killed-to-be host's and the test's", owners)
	}
	for _, h := range []*holder{orphan, kept} {
		if err := h.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
	}
	killed := time.Now()
	// The bound the docs state, and the garbage collector's own delay.
	bound := kube.LeaseDuration + kube.LeaseRenewPeriod + 20*time.Second
	deadline := time.After(bound)
	for len(c.leftOf(t, "orphan")) > 0 {
		select {
		case <-deadline:
			t.Fatalf("%v after the only host of orphan was killed: %v left, want it removed within %v",
				time.Since(killed), c.leftOf(t, "orphan"), bound)
		case <-time.After(500 * time.Millisecond):
		}
	}
	t.Logf("orphan removed %v after its host was killed", time.Since(killed))
	if owners := c.leaseOwners(t, "kept"); len(owners) > 1 {
		t.Errorf("kept's Lease owners after the killed host's Lease expired: %v, want only the test client's", owners)
	}
	greetN(t, client, 10, "survivor")
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}
	if left := c.leftOf(t, "kept"); len(left) > 0 {
		t.Errorf("after the last live host's Close: %v left", left)
	}
}

// TestHostPodDeletedRemovesPlugin: a host running as a pod, with POD_NAME,
// POD_UID and POD_NAMESPACE from the downward API and the shipped Role,
// holds a plugin alone; its Lease is owned by its pod. The pod is deleted
// and its host, which ignores SIGTERM, is killed with SIGKILL: with no
// other tether host in the namespace to find its Lease expired, the
// garbage collector alone removes the Lease with the pod, then the plugin.
func TestHostPodDeletedRemovesPlugin(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	ctx := t.Context()
	c.env.RegisterImage("tether.test/kubehold:v1", build(t, "github.com/tetherplug/tether/test/hosts/kubehold"))
	applyRBAC(t, c)
	field := func(name, path string) corev1.EnvVar {
		return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}}
	}
	grace := int64(1)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "holder"}, Spec: corev1.PodSpec{
		ServiceAccountName: "tether-host", RestartPolicy: corev1.RestartPolicyNever, TerminationGracePeriodSeconds: &grace,
		Containers: []corev1.Container{{Name: "host", Image: "tether.test/kubehold:v1", Args: []string{c.ns, "podheld", greeterImage},
			Env: []corev1.EnvVar{{Name: kube.EnvServiceAccountDir, Value: "/var/run/secrets/kubernetes.io/serviceaccount"},
				{Name: "KUBEHOLD_IGNORE_TERM", Value: "1"},
				field(kube.EnvPodName, "metadata.name"), field(kube.EnvPodUID, "metadata.uid"), field(kube.EnvPodNamespace, "metadata.namespace")}}}}}
	created, err := c.client.CoreV1().Pods(c.ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var logs string
	plugintest.Eventually(t, 3*time.Minute, "the host pod holds the plugin", func() bool {
		b, err := c.client.CoreV1().Pods(c.ns).GetLogs("holder", &corev1.PodLogOptions{}).DoRaw(ctx)
		logs = string(b)
		return err == nil && strings.Contains(logs, "holding")
	})
	leases, err := c.client.CoordinationV1().Leases(c.ns).List(ctx, metav1.ListOptions{LabelSelector: kube.ManagedSelector("podheld")})
	switch {
	case err != nil:
		t.Fatal(err)
	case len(leases.Items) != 1:
		t.Errorf("podheld has %d Leases, want the host's one", len(leases.Items))
	default:
		if refs := leases.Items[0].OwnerReferences; len(refs) != 1 || refs[0].Kind != "Pod" || refs[0].UID != created.UID {
			t.Errorf("the host's Lease is owned by %v, want its pod %s", refs, created.UID)
		}
	}
	if err := c.client.CoreV1().Pods(c.ns).Delete(ctx, "holder", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	deleted := time.Now()
	// Well within LeaseDuration: nobody found the Lease expired.
	bound := kube.LeaseDuration
	deadline := time.After(bound)
	for len(c.leftOf(t, "podheld")) > 0 {
		select {
		case <-deadline:
			t.Fatalf("%v after the host's pod was deleted: %v left, want it removed within %v", time.Since(deleted), c.leftOf(t, "podheld"), bound)
		case <-time.After(500 * time.Millisecond):
		}
	}
	t.Logf("podheld removed %v after its host's pod was deleted", time.Since(deleted))
}
