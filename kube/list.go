package kube

import (
	"context"
	"crypto/tls"
	"net"
	"sort"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"google.golang.org/grpc"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/remote"
)

// Plugin is one plugin tether deployed in a namespace, as List finds it.
type Plugin struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	Image     string `json:"image"`
	Ready     int32  `json:"ready"`
	Desired   int32  `json:"desired"`
	// Interfaces and Protocol come from Describe of one ready pod; empty
	// when none is ready or no TLS configuration was given (DescribeError
	// then says why).
	Interfaces    map[string][]int `json:"interfaces,omitempty"`
	Protocol      int              `json:"protocol_version,omitempty"`
	DescribeError string           `json:"describe_error,omitempty"`
}

// ListOption configures how List describes the plugins it finds.
type ListOption func(*listConfig)

type listConfig struct {
	tls      *tls.Config
	insecure bool
	host     []tether.Option
	timeout  time.Duration
	pf       *rest.Config // DescribeThroughPortForward (portforward.go)
}

// DescribeTLS describes each plugin over mutual TLS with conf; the pods'
// certificate must carry the Service's DNS name (ServerName) unless conf
// sets ServerName.
func DescribeTLS(conf *tls.Config) ListOption { return func(c *listConfig) { c.tls = conf } }

// DescribeInsecure describes each plugin in plaintext.
func DescribeInsecure() ListOption { return func(c *listConfig) { c.insecure = true } }

// DescribeWith passes host options (a handshake, protocol versions, a
// logger) to the Describe of each plugin, a load of its kube:// target.
// The runtime options of other runtimes are refused there (DescribeError
// names them), and kube's own have no effect: the TLS of a Describe is
// DescribeTLS or DescribeInsecure.
func DescribeWith(opts ...tether.Option) ListOption {
	return func(c *listConfig) { c.host = append(c.host, opts...) }
}

// DescribeTimeout bounds the Describe of each plugin (default 10 s).
func DescribeTimeout(d time.Duration) ListOption { return func(c *listConfig) { c.timeout = d } }

// List finds the plugins tether deployed in namespace ns, or in every
// namespace when ns is metav1.NamespaceAll ("") (Deployments labelled
// app.kubernetes.io/managed-by=tether), sorted by namespace and name, with their
// image and replicas, and, given DescribeTLS or DescribeInsecure, the
// interfaces and versions one ready pod serves.
func List(ctx context.Context, c kubernetes.Interface, ns string, opts ...ListOption) ([]Plugin, error) {
	lc := listConfig{timeout: defaultDescribeTimeout}
	for _, o := range opts {
		o(&lc)
	}
	sel := metav1.ListOptions{LabelSelector: ManagedSelector("")}
	var out []Plugin
	err := withRetry(ctx, func() error {
		deps, err := c.AppsV1().Deployments(ns).List(ctx, sel)
		if err != nil {
			return err
		}
		out = out[:0]
		for _, d := range deps.Items {
			p := Plugin{Name: d.Labels[LabelPlugin], Namespace: d.Namespace, Ready: d.Status.ReadyReplicas, Desired: desired(&d)}
			if cs := d.Spec.Template.Spec.Containers; len(cs) > 0 {
				p.Image = cs[0].Image
			}
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		return nil, apiFailure(ns, "list", "deployments.apps", "", ns, err)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Namespace < out[j].Namespace || out[i].Namespace == out[j].Namespace && out[i].Name < out[j].Name
	})
	for i := range out {
		lc.describe(ctx, c, &out[i])
	}
	return out, nil
}

// describe fills in a plugin's interfaces from one ready pod.
func (lc listConfig) describe(ctx context.Context, c kubernetes.Interface, p *Plugin) {
	if lc.tls == nil && !lc.insecure {
		p.DescribeError = "not described: no TLS configuration given"
		return
	}
	pods, err := c.CoreV1().Pods(p.Namespace).List(ctx, metav1.ListOptions{LabelSelector: ManagedSelector(p.Name)})
	if err != nil {
		p.DescribeError = apiFailure(p.Name, "list", "pods", "", p.Namespace, err).Error()
		return
	}
	pod, port := readyPod(pods.Items)
	if pod == nil {
		p.DescribeError = "no ready pod to describe"
		return
	}
	client, err := lc.open(ctx, c, p.Name, p.Namespace, net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(int(port))))
	if err != nil {
		p.DescribeError = err.Error()
		return
	}
	defer client.Close()
	p.Interfaces, p.Protocol = client.Served(), client.ProtocolVersion()
}

// readyPod is a ready pod with an IP, and its first container port.
func readyPod(pods []corev1.Pod) (*corev1.Pod, int32) {
	for i := range pods {
		p := &pods[i]
		if p.Status.PodIP == "" || p.DeletionTimestamp != nil || len(p.Spec.Containers) == 0 || len(p.Spec.Containers[0].Ports) == 0 {
			continue
		}
		for _, cond := range p.Status.Conditions {
			if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue {
				return p, p.Spec.Containers[0].Ports[0].ContainerPort
			}
		}
	}
	return nil, 0
}

// podBuilder is the runtime of List's Describe of one pod: it reports the
// pod's endpoint and neither deploys nor removes anything.
type podBuilder struct{ ep tether.Endpoint }

func (podBuilder) Scheme() string { return scheme }

// DialOptions are remote's, as for every load of a kube target.
func (podBuilder) DialOptions() []grpc.DialOption { return remote.DialOptions() }

func (b podBuilder) Build(_ context.Context, _ tether.Target, env tether.RuntimeEnv) (tether.Runtime, error) {
	env.Endpoints.UpdateEndpoints([]tether.Endpoint{b.ep})
	return podRuntime{}, nil
}

// podRuntime is a described pod: Close stops nothing.
type podRuntime struct{}

func (podRuntime) Close(context.Context, func(context.Context, tether.Endpoint) error) error {
	return nil
}
