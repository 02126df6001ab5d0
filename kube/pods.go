package kube

import (
	"context"
	"net"
	"sort"
	"strconv"
	"sync"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/tetherplug/tether"
)

// Pod is one pod of a plugin, as Pods finds it.
type Pod struct {
	Name  string `json:"name"`
	IP    string `json:"ip"`
	Ready bool   `json:"ready"`
	// Phase is the pod's phase (Pending, Running...); Terminating when it
	// is being deleted.
	Phase string `json:"phase"`
	// Interfaces and Protocol come from the pod's Describe, Health from its
	// grpc.health.v1 check of the plugin's service (SERVING, NOT_SERVING,
	// or UNKNOWN with why); a pod that is not ready, or when no TLS
	// configuration was given, is not asked (DescribeError says why).
	Interfaces    map[string][]int `json:"interfaces,omitempty"`
	Protocol      int              `json:"protocol_version,omitempty"`
	Health        string           `json:"health,omitempty"`
	DescribeError string           `json:"describe_error,omitempty"`
}

// Pods lists every pod of plugin name in namespace ns, sorted by name, and,
// given DescribeTLS or DescribeInsecure, asks each ready one for its
// interfaces (Describe) and its health, all at once.
func Pods(ctx context.Context, c kubernetes.Interface, ns, name string, opts ...ListOption) ([]Pod, error) {
	lc := listConfig{timeout: defaultDescribeTimeout}
	for _, o := range opts {
		o(&lc)
	}
	var list *corev1.PodList
	err := withRetry(ctx, func() (err error) {
		list, err = c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: ManagedSelector(name)})
		return err
	})
	if err != nil {
		return nil, apiFailure(name, "list", "pods", "", ns, err)
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	out := make([]Pod, len(list.Items))
	var wg sync.WaitGroup
	for i := range list.Items {
		p := &list.Items[i]
		out[i] = Pod{Name: p.Name, IP: p.Status.PodIP, Ready: podReady(p), Phase: string(p.Status.Phase)}
		if p.DeletionTimestamp != nil {
			out[i].Phase = "Terminating"
		}
		wg.Go(func() { lc.describePod(ctx, c, name, p, &out[i]) })
	}
	wg.Wait()
	return out, nil
}

// defaultDescribeTimeout bounds one Describe unless DescribeTimeout.
const defaultDescribeTimeout = 10 * time.Second

// describePod fills in one pod's interfaces and health.
func (lc listConfig) describePod(ctx context.Context, c kubernetes.Interface, plugin string, p *corev1.Pod, out *Pod) {
	switch {
	case lc.tls == nil && !lc.insecure:
		out.DescribeError = "not described: no TLS configuration given"
		return
	case !out.Ready || p.DeletionTimestamp != nil || out.IP == "":
		out.DescribeError = "not ready"
		return
	case len(p.Spec.Containers) == 0 || len(p.Spec.Containers[0].Ports) == 0:
		out.DescribeError = "not described: the pod's container declares no port"
		return
	}
	port := p.Spec.Containers[0].Ports[0].ContainerPort
	client, err := lc.open(ctx, c, plugin, p.Namespace, net.JoinHostPort(out.IP, strconv.Itoa(int(port))))
	if err != nil {
		out.DescribeError = err.Error()
		return
	}
	defer client.Close()
	out.Interfaces, out.Protocol = client.Served(), client.ProtocolVersion()
	hctx, cancel := context.WithTimeout(ctx, lc.timeout)
	defer cancel()
	resp, err := healthpb.NewHealthClient(client.Conn()).Check(hctx, &healthpb.HealthCheckRequest{Service: tether.HealthService})
	if err != nil {
		out.Health = "UNKNOWN (" + status.Convert(err).Message() + ")"
		return
	}
	out.Health = resp.GetStatus().String()
}

// open loads one pod of plugin name, at addr, as the plugin's own target
// with a runtime that reports that pod alone (reached through the API
// server with DescribeThroughPortForward).
func (lc listConfig) open(ctx context.Context, c kubernetes.Interface, name, ns, addr string) (*tether.Client, error) {
	tr := tlsOptions.Plaintext()
	if !lc.insecure {
		tr = tlsOptions.TLS(lc.tls)
	}
	ep := lc.forwarder(c, ns, name).route(tr.Endpoint("tcp", addr, ServerName(name, ns)), addr)
	opts := append([]tether.Option{tether.WithName(name), tether.WithStartTimeout(lc.timeout)}, lc.host...)
	opts = append(opts, tether.WithRuntime(podBuilder{ep}))
	return tether.Open(ctx, scheme+"://"+ns+"/"+name, opts...)
}

// podReady reports whether a pod's Ready condition is true.
func podReady(p *corev1.Pod) bool {
	for _, cond := range p.Status.Conditions {
		if cond.Type == corev1.PodReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}
