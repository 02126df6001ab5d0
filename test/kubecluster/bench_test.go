package kubecluster

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/peer"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/tetherplug/tether"
	greeterv1 "github.com/tetherplug/tether/examples/greeter/greeterpb/v1"
	"github.com/tetherplug/tether/internal/plugintest"
	"github.com/tetherplug/tether/kube"
)

// benchCallers is how many goroutines call at once.
const benchCallers = 16

// load calls the greeter from benchCallers goroutines until stopped,
// counting calls per pod address and failures, and noting when each
// address took calls again after none for resumeGap (a new pod's first
// call is one: a pod IP may be reused by a later pod).
type load struct {
	g       greeterv1.GreeterClient
	mu      sync.Mutex
	perPod  map[string]int
	last    map[string]time.Time
	resumed map[string][]time.Time
	ok      atomic.Int64
	failed  atomic.Int64
	stop    chan struct{}
	halted  sync.Once
	wg      sync.WaitGroup
}

func startLoad(g greeterv1.GreeterClient) *load {
	l := &load{g: g, perPod: map[string]int{}, last: map[string]time.Time{}, resumed: map[string][]time.Time{},
		stop: make(chan struct{})}
	for range benchCallers {
		l.wg.Add(1)
		go l.call()
	}
	return l
}

func (l *load) call() {
	defer l.wg.Done()
	for {
		select {
		case <-l.stop:
			return
		default:
		}
		var p peer.Peer
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := l.g.Greet(ctx, &greeterv1.GreetRequest{Name: "bench"}, grpc.Peer(&p))
		cancel()
		if err != nil {
			l.failed.Add(1)
			continue
		}
		now := time.Now()
		l.ok.Add(1)
		a := p.Addr.String()
		l.mu.Lock()
		l.perPod[a]++
		if last, ok := l.last[a]; !ok || now.Sub(last) > resumeGap {
			l.resumed[a] = append(l.resumed[a], now)
		}
		l.last[a] = now
		l.mu.Unlock()
	}
}

// resumeGap is how long an address took no call before one that counts
// as its first.
const resumeGap = 500 * time.Millisecond

// reset zeroes the counts.
func (l *load) reset() {
	l.mu.Lock()
	l.perPod = map[string]int{}
	l.mu.Unlock()
	l.ok.Store(0)
	l.failed.Store(0)
}

// firstCall is when address a first took calls again after since, if it
// did.
func (l *load) firstCall(a string, since time.Time) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, t := range l.resumed[a] {
		if !t.Before(since) {
			return t, true
		}
	}
	return time.Time{}, false
}

// halt stops the callers (again: nothing) and waits for them.
func (l *load) halt() {
	l.halted.Do(func() { close(l.stop) })
	l.wg.Wait()
}

// BenchmarkKube is issue 16's benchmark, against the real control plane:
// calls/s of 16 callers over 1, 3 and 5 pods in one run (and how evenly
// they spread), then 20 pod deletions under that load, each measuring the
// time from the slice change that lists the replacement pod ready (as a
// watch of the slices sees it) to the first call the pod answers, and
// counting failed calls. Run it with make bench-kube (-benchtime 1x: one
// run is the measurement).
func BenchmarkKube(b *testing.B) {
	c := newCluster(b)
	c.tlsSecret(b, "bench-tls", "bench")
	client, err := tether.Open(b.Context(), "kube://"+c.ns+"/bench", tether.WithInterface("greeter", 1),
		tether.WithStartTimeout(2*time.Minute), tether.WithLogger(slog.New(slog.DiscardHandler)),
		kube.WithKubeconfig(c.env.Kubeconfig()), kube.WithTLSFiles(c.hostCert, c.hostKey, c.cas),
		kube.WithDeploy(kube.Spec{Image: greeterImage, Replicas: new(int32(1)), Port: 7000, TLSSecret: "bench-tls"}))
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
	g, err := tether.Dispense(client, "greeter", greeterv1.NewGreeterClient)
	if err != nil {
		b.Fatal(err)
	}
	l := startLoad(g)
	defer l.halt()
	b.ResetTimer()
	for _, n := range []int{1, 3, 5} {
		c.scale(b, "bench", n)
		plugintest.Eventually(b, 2*time.Minute, strconv.Itoa(n)+" pods admitted", func() bool { return admitted(client) == n })
		l.reset()
		start := time.Now()
		time.Sleep(5 * time.Second) // the measurement window
		rate := float64(l.ok.Load()) / time.Since(start).Seconds()
		l.mu.Lock()
		counts := make([]int, 0, len(l.perPod))
		for _, k := range l.perPod {
			counts = append(counts, k)
		}
		l.mu.Unlock()
		slices.Sort(counts)
		b.ReportMetric(rate, "calls/s-"+strconv.Itoa(n)+"pods")
		b.Logf("%d pods: %.0f calls/s, %d failed, calls per pod %v", n, rate, l.failed.Load(), counts)
	}
	l.reset()
	lat := c.deletions(b, "bench", l, 20)
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "ms-to-first-call-median")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "ms-to-first-call-max")
	b.ReportMetric(float64(l.failed.Load()), "failed-calls-20-deletions")
	b.Logf("20 pod deletions under %d callers: %d calls, %d failed; slice change to first call: %v",
		benchCallers, l.ok.Load(), l.failed.Load(), lat)
	l.reset()
	c.scale(b, "bench", 2)
	plugintest.Eventually(b, 2*time.Minute, "2 pods admitted", func() bool { return admitted(client) == 2 })
	time.Sleep(2 * time.Second) // the pods going away terminate meanwhile
	b.ReportMetric(float64(l.failed.Load()), "failed-calls-scale-5-to-2")
	b.Logf("scaling 5 to 2 under %d callers: %d calls, %d failed", benchCallers, l.ok.Load(), l.failed.Load())
	l.halt()
	c.scaleToZero(b, g)
}

// scaleToZero measures a call's failure at 0 replicas, and the time from
// scaling back to 1 until a call succeeds again through the same client.
func (c *cluster) scaleToZero(b *testing.B, g greeterv1.GreeterClient) {
	call := func() (time.Duration, error) {
		ctx, cancel := context.WithTimeout(b.Context(), 5*time.Second)
		defer cancel()
		start := time.Now()
		_, err := g.Greet(ctx, &greeterv1.GreetRequest{Name: "bench"})
		return time.Since(start), err
	}
	c.scale(b, "bench", 0)
	plugintest.Eventually(b, time.Minute, "calls failing at 0 replicas", func() bool { _, err := call(); return err != nil })
	var took []time.Duration
	for range 20 {
		d, err := call()
		if !errors.Is(err, tether.ErrUnavailable) {
			b.Fatalf("a call at 0 replicas: %v, want ErrUnavailable", err)
		}
		took = append(took, d)
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "ms-failed-call-at-0-median")
	start := time.Now()
	c.scale(b, "bench", 1)
	plugintest.Eventually(b, 2*time.Minute, "a call succeeding after scaling back to 1", func() bool { _, err := call(); return err == nil })
	b.ReportMetric(time.Since(start).Seconds(), "s-0-to-1-first-call")
	b.Logf("at 0 replicas calls fail with ErrUnavailable in %v (median of 20, max %v); 0 to 1: first call after %v",
		took[len(took)/2], took[len(took)-1], time.Since(start))
}

// admitted counts the client's instances that take calls.
func admitted(c *tether.Client) int {
	n := 0
	for _, in := range c.Instances() {
		if in.Admitted {
			n++
		}
	}
	return n
}

// scale sets the Deployment's replicas.
func (c *cluster) scale(b testing.TB, name string, n int) {
	b.Helper()
	s := &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: c.ns},
		Spec: autoscalingv1.ScaleSpec{Replicas: int32(n)}}
	if _, err := c.client.AppsV1().Deployments(c.ns).UpdateScale(b.Context(), name, s, metav1.UpdateOptions{}); err != nil {
		b.Fatal(err)
	}
}

// deletions deletes one pod of plugin name at a time, n times, and for
// each replacement measures the time from the slice change that lists it
// ready to the first call l sees it answer.
func (c *cluster) deletions(b testing.TB, name string, l *load, n int) []time.Duration {
	b.Helper()
	ctx := b.Context()
	w, err := c.client.DiscoveryV1().EndpointSlices(c.ns).Watch(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + name})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	var mu sync.Mutex
	listed := map[string]time.Time{} // ready address: when the slices last started listing it
	bySlice := map[string][]string{} // slice name: its ready addresses
	go func() {
		for ev := range w.ResultChan() {
			s, ok := ev.Object.(*discoveryv1.EndpointSlice)
			if !ok {
				continue
			}
			now := time.Now()
			mu.Lock()
			before := union(bySlice)
			if ev.Type == watch.Deleted {
				delete(bySlice, s.Name)
			} else {
				bySlice[s.Name] = readyOf(s)
			}
			for a := range union(bySlice) {
				if !before[a] {
					listed[a] = now
				}
			}
			mu.Unlock()
		}
	}()
	var lat []time.Duration
	for i := range n {
		pods, err := c.client.CoreV1().Pods(c.ns).List(ctx, metav1.ListOptions{LabelSelector: kube.LabelPlugin + "=" + name})
		if err != nil {
			b.Fatal(err)
		}
		before := map[string]bool{}
		var victim *corev1.Pod
		for j := range pods.Items {
			p := &pods.Items[j]
			before[p.Name] = true
			if p.DeletionTimestamp == nil && p.Status.PodIP != "" && victim == nil {
				victim = p
			}
		}
		if victim == nil {
			b.Fatalf("deletion %d: no running pod", i)
		}
		deleted := time.Now()
		if err := c.client.CoreV1().Pods(c.ns).Delete(ctx, victim.Name, metav1.DeleteOptions{}); err != nil {
			b.Fatal(err)
		}
		// The replacement: a pod not there before, listed ready, called.
		var addr string
		plugintest.Eventually(b, 2*time.Minute, "the replacement pod listed ready", func() bool {
			pods, err := c.client.CoreV1().Pods(c.ns).List(ctx, metav1.ListOptions{LabelSelector: kube.LabelPlugin + "=" + name})
			if err != nil {
				return false
			}
			for _, p := range pods.Items {
				if !before[p.Name] && p.Status.PodIP != "" {
					addr = net.JoinHostPort(p.Status.PodIP, "7000")
					mu.Lock()
					t, ok := listed[addr]
					mu.Unlock()
					return ok && t.After(deleted)
				}
			}
			return false
		})
		mu.Lock()
		at := listed[addr]
		mu.Unlock()
		var first time.Time
		plugintest.Eventually(b, time.Minute, "the first call on the replacement pod", func() bool {
			var ok bool
			first, ok = l.firstCall(addr, at.Add(-resumeGap))
			return ok
		})
		lat = append(lat, first.Sub(at))
	}
	return lat
}

// readyOf are the ready, not terminating, endpoints of s as "ip:port".
func readyOf(s *discoveryv1.EndpointSlice) []string {
	var out []string
	for _, ep := range s.Endpoints {
		c := ep.Conditions
		if c.Ready != nil && !*c.Ready || c.Terminating != nil && *c.Terminating {
			continue
		}
		for _, p := range s.Ports {
			if p.Port == nil {
				continue
			}
			for _, ip := range ep.Addresses {
				out = append(out, net.JoinHostPort(ip, strconv.Itoa(int(*p.Port))))
			}
		}
	}
	return out
}

// union is the set of the addresses of every slice.
func union(bySlice map[string][]string) map[string]bool {
	out := map[string]bool{}
	for _, addrs := range bySlice {
		for _, a := range addrs {
			out[a] = true
		}
	}
	return out
}
