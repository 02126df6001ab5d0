package kube

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/plugintest"
)

// watchCounter counts the watches of EndpointSlices a fake client
// started, and those still open (not stopped).
type watchCounter struct {
	mu              sync.Mutex
	started, active int
}

func (w *watchCounter) counts() (started, open int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.started, w.active
}

// countWatches makes c's watches of EndpointSlices counted.
func countWatches(c *fake.Clientset) *watchCounter {
	wc := &watchCounter{}
	c.PrependWatchReactor("endpointslices", func(a k8stesting.Action) (bool, watch.Interface, error) {
		var opts metav1.ListOptions
		if wa, ok := a.(k8stesting.WatchActionImpl); ok {
			opts = wa.ListOptions
		}
		w, err := c.Tracker().Watch(a.GetResource(), a.GetNamespace(), opts)
		if err != nil {
			return true, nil, err
		}
		wc.mu.Lock()
		wc.started++
		wc.active++
		wc.mu.Unlock()
		return true, &countedWatch{Interface: w, wc: wc}, nil
	})
	return wc
}

type countedWatch struct {
	watch.Interface
	wc   *watchCounter
	once sync.Once
}

func (w *countedWatch) Stop() {
	w.once.Do(func() {
		w.wc.mu.Lock()
		w.wc.active--
		w.wc.mu.Unlock()
	})
	w.Interface.Stop()
}

// addPlugin adds a second ready plugin, name, to c's namespace, its one
// pod at ip:port.
func addPlugin(t *testing.T, c *fake.Clientset, name, ip string, port int32) {
	t.Helper()
	spec := goodSpec()
	spec.Name, spec.Port, spec.Replicas = name, port, new(int32(1))
	d, svc := spec.objects(testNS, false)
	ctx := context.Background()
	if _, err := c.AppsV1().Deployments(testNS).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CoreV1().Services(testNS).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	markReady(t, c, name)
	if _, err := c.DiscoveryV1().EndpointSlices(testNS).Create(ctx, slice(name+"-1", name, port, map[string]bool{ip: true}),
		metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// running reports whether the shared informer of c's namespace runs.
func running(c *fake.Clientset) bool {
	sliceInformers.mu.Lock()
	defer sliceInformers.mu.Unlock()
	return sliceInformers.m[informerKey{client: c, ns: testNS}] != nil
}

// Ten clients of two plugins of one namespace make one watch of its
// EndpointSlices (the first client's permission check starts one more and
// stops it at once); each client sees only its own plugin's pods; the
// watch ends when the last client closes, not before.
func TestTenClientsShareOneWatch(t *testing.T) {
	port := echoPlugin(t, "127.0.0.1", 0)
	echoPlugin(t, "127.0.0.2", port)
	c := deployed(t, port)
	addPlugin(t, c, "hello", "127.0.0.2", port)
	wc := countWatches(c)
	var clients []*tether.Client
	want := map[*tether.Client]string{}
	for i := range 10 {
		name, ip := "greeter", "127.0.0.1"
		if i%2 == 1 {
			name, ip = "hello", "127.0.0.2"
		}
		client, err := tetherOpen("kube://plugins/"+name, WithClient(c), WithInsecure(), tether.WithInterface("echo", 1))
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, client)
		want[client] = ip + ":hi"
	}
	t.Cleanup(func() {
		for _, cl := range clients {
			cl.Close()
		}
	})
	if started, open := wc.counts(); open != 1 || started > 2 {
		t.Errorf("10 clients started %d watches of EndpointSlices, %d still open; want 1 open (and at most the first's check besides)", started, open)
	}
	for _, cl := range clients {
		if got := echoText(t, cl); got != want[cl] {
			t.Errorf("a client answered %q, want %q (its own plugin's pod)", got, want[cl])
		}
	}
	for _, cl := range clients[:9] {
		if err := cl.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if _, open := wc.counts(); open != 1 || !running(c) {
		t.Fatalf("with one client left: %d watches open, informer running %v; want 1 and true", open, running(c))
	}
	// The last client still follows its slices.
	last := clients[9]
	s := slice("hello-1", "hello", port, map[string]bool{"127.0.0.2": true, "127.0.0.1": true})
	if _, err := c.DiscoveryV1().EndpointSlices(testNS).Update(context.Background(), s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	plugintest.Eventually(t, 5*time.Second, "the last client following a change", func() bool { return len(last.Instances()) == 2 })
	if err := last.Close(); err != nil {
		t.Fatal(err)
	}
	if running(c) {
		t.Error("the namespace's informer still runs after its last client closed")
	}
	plugintest.Eventually(t, 5*time.Second, "the watch stopped", func() bool { _, open := wc.counts(); return open == 0 })
}

// echoText makes one echo call through c and returns the answer.
func echoText(t *testing.T, c *tether.Client) string {
	t.Helper()
	echo, err := tether.Dispense(c, "echo", echov1.NewEchoClient)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := echo.Unary(ctx, &echov1.Message{Text: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	return m.GetText()
}

// Endpoints that are terminating but still serving are used when, and
// only when, no endpoint is ready.
func TestServingTerminatingOnlyWhenNoneReady(t *testing.T) {
	yes, no := true, false
	draining := func(ip string) discoveryv1.Endpoint {
		return discoveryv1.Endpoint{Addresses: []string{ip},
			Conditions: discoveryv1.EndpointConditions{Ready: &no, Serving: &yes, Terminating: &yes}}
	}
	gone := discoveryv1.Endpoint{Addresses: []string{"10.0.0.9"},
		Conditions: discoveryv1.EndpointConditions{Ready: &no, Serving: &no, Terminating: &yes}}
	s := slice("g-1", "greeter", 7000, nil)
	s.Endpoints = []discoveryv1.Endpoint{draining("10.0.0.1"), draining("10.0.0.2"), gone}
	if got, want := usableAddresses([]*discoveryv1.EndpointSlice{s}, 7000), []string{"10.0.0.1:7000", "10.0.0.2:7000"}; !slices.Equal(got, want) {
		t.Errorf("no endpoint ready: got %v, want the serving terminating ones %v", got, want)
	}
	other := slice("g-2", "greeter", 7000, map[string]bool{"10.0.0.3": true})
	if got, want := usableAddresses([]*discoveryv1.EndpointSlice{s, other}, 7000), []string{"10.0.0.3:7000"}; !slices.Equal(got, want) {
		t.Errorf("one endpoint ready (in another slice): got %v, want only it, %v", got, want)
	}
	// Through the follower: a Service whose only pod is draining.
	c := fake.NewClientset(s)
	got := make(chan []string, 4)
	f, err := follow(context.Background(), c, testNS, "greeter", 7000, func(a []string) { got <- a }, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer f.close()
	if a := f.addresses(); !slices.Equal(a, []string{"10.0.0.1:7000", "10.0.0.2:7000"}) {
		t.Errorf("follower: %v, want the two draining pods", a)
	}
}

// Loads through kubeconfigs that say the same share one clientset (and
// so its rate limiter and the namespace's informer); another user or
// server gets its own.
func TestSameKubeconfigSharesClient(t *testing.T) {
	dir := t.TempDir()
	write := func(name, server, token string) string {
		p := filepath.Join(dir, name)
		kc := "apiVersion: v1\nkind: Config\ncurrent-context: x\nclusters:\n- name: x\n  cluster:\n    server: " + server +
			"\nusers:\n- name: u\n  user:\n    token: " + token + "\ncontexts:\n- name: x\n  context:\n    cluster: x\n    user: u\n"
		if err := os.WriteFile(p, []byte(kc), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a := write("a", "https://127.0.0.1:6443", "t1")
	b := write("b", "https://127.0.0.1:6443", "t1")
	other := write("c", "https://127.0.0.1:6443", "t2")
	ca, err := sharedClient(a, "")
	if err != nil {
		t.Fatal(err)
	}
	cb, err := sharedClient(b, "")
	if err != nil {
		t.Fatal(err)
	}
	co, err := sharedClient(other, "")
	if err != nil {
		t.Fatal(err)
	}
	if ca != cb {
		t.Error("two kubeconfigs with the same server and user got two clientsets")
	}
	if ca == co {
		t.Error("kubeconfigs of two users share a clientset")
	}
}
