package kube

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
	streamhttp "k8s.io/streaming/pkg/httpstream"

	"github.com/tetherplug/tether"
)

// WithPortForward reaches each ready pod through the API server's
// port-forward (the pods/portforward subresource, as kubectl port-forward
// does) instead of at its pod IP: for a host outside the cluster's pod
// network, such as a laptop or a CI runner. Each gRPC connection to a pod
// is one forwarded stream pair of its own, so the endpoints are still the
// pods, one to one, and calls are balanced over them pod by pod; the TLS
// (mutual, with the same ServerName) runs inside the tunnel, end to end
// with the pod. The host's account needs `create` on pods/portforward.
// It needs the API server's address and credentials from a kubeconfig or
// the pod's service account: it cannot be used with WithClient. For kube
// targets only.
func WithPortForward() tether.Option {
	return opt("WithPortForward", func(c *config) { c.portForward = true })
}

// PortForwardNetwork is the Network of the endpoints of a client with
// WithPortForward (tether.InstanceInfo.Network); their Address is the
// pod's IP and port, which name the pod and are never dialled.
const PortForwardNetwork = "portforward"

// PortForwardError says a pod could not be reached through the API
// server's port-forward: the account may not create pods/portforward, the
// pod is gone, or the API server or the node refused the tunnel. Returned
// wrapped in a *tether.PluginError of kind tether.ErrHost.
type PortForwardError struct {
	Pod, Namespace string
	Port           int32
	Err            error
}

// Error names the pod and the port and says why the tunnel failed.
func (e *PortForwardError) Error() string {
	return fmt.Sprintf("could not reach port %d of pod %s in namespace %s through the API server's port-forward "+
		"(which needs `create` on pods/portforward): %v", e.Port, e.Pod, e.Namespace, e.Err)
}

// Unwrap returns the cause.
func (e *PortForwardError) Unwrap() error { return e.Err }

// forwarder reaches one plugin's pods through the API server's
// port-forward.
type forwarder struct {
	conf     *rest.Config
	c        kubernetes.Interface
	ns, name string
	log      *slog.Logger
}

// newForwarder is the forwarder of a load with WithPortForward, nil
// without it.
func newForwarder(cfg config, c kubernetes.Interface, ns, name string, log *slog.Logger) (*forwarder, error) {
	if !cfg.portForward {
		return nil, nil
	}
	if cfg.client != nil {
		return nil, &tether.PluginError{Plugin: name, Kind: tether.ErrBadTarget,
			Detail: "kube.WithPortForward needs the API server's address and credentials of a kubeconfig " +
				"(kube.WithKubeconfig) or the pod's service account, not kube.WithClient"}
	}
	conf, err := ContextRESTConfig(cfg.kubeconfig, cfg.context)
	if err != nil {
		return nil, &tether.PluginError{Plugin: name, Kind: tether.ErrHost, Detail: "no Kubernetes client configuration", Err: err}
	}
	return &forwarder{conf: conf, c: c, ns: ns, name: name, log: log}, nil
}

// DescribeThroughPortForward makes List describe each plugin's pod through
// the API server's port-forward, as WithPortForward reaches pods, from a
// host outside the pod network; conf is the API server's address and
// credentials (RESTConfig). The account needs `create` on
// pods/portforward.
func DescribeThroughPortForward(conf *rest.Config) ListOption {
	return func(c *listConfig) { c.pf = conf }
}

// forwarder is the forwarder of List's Describe of plugin name in ns, nil
// without DescribeThroughPortForward.
func (lc listConfig) forwarder(c kubernetes.Interface, ns, name string) *forwarder {
	if lc.pf == nil {
		return nil
	}
	return &forwarder{conf: lc.pf, c: c, ns: ns, name: name, log: slog.New(slog.DiscardHandler)}
}

// route makes ep, the endpoint of the pod at addr, reached through the
// forwarder; a nil forwarder leaves it as it is.
func (f *forwarder) route(ep tether.Endpoint, addr string) tether.Endpoint {
	if f == nil {
		return ep
	}
	ep.Network = PortForwardNetwork
	ep.Dial = func(ctx context.Context) (net.Conn, error) { return f.dial(ctx, addr) }
	return ep
}

// probe opens and closes one tunnel, to the first of addrs, so that a
// host that may not port-forward, or whose API server will not, fails
// Open at once with the reason.
func (f *forwarder) probe(ctx context.Context, addrs []string) error {
	if len(addrs) == 0 {
		return nil
	}
	dctx, cancel := context.WithTimeout(ctx, PodDialTimeout)
	defer cancel()
	conn, err := f.dial(dctx, addrs[0])
	if err != nil {
		return &tether.PluginError{Plugin: f.name, Kind: tether.ErrHost, Err: err}
	}
	return conn.Close()
}

// dial opens a connection to addr, a pod's "ip:port", through the API
// server: the pod that has the IP is found by listing the plugin's pods,
// then one port-forward connection carries one stream pair to its port.
func (f *forwarder) dial(ctx context.Context, addr string) (net.Conn, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseInt(p, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("bad pod port in %q: %w", addr, err)
	}
	pod, err := f.podAt(ctx, host)
	if err != nil {
		return nil, err
	}
	fail := func(err error) error {
		return &PortForwardError{Pod: pod, Namespace: f.ns, Port: int32(port), Err: err}
	}
	conn, err := f.connect(ctx, pod)
	if err != nil {
		return nil, fail(err)
	}
	c, err := openStreams(conn, int32(port))
	if err != nil {
		_ = conn.Close()
		return nil, fail(err)
	}
	c.log = f.log.With("plugin", f.name, "namespace", f.ns, "pod", pod)
	return c.pipe(addr), nil
}

// podAt is the name of the plugin's pod whose IP is ip.
func (f *forwarder) podAt(ctx context.Context, ip string) (string, error) {
	var pods *corev1.PodList
	err := withRetry(ctx, func() (err error) {
		pods, err = f.c.CoreV1().Pods(f.ns).List(ctx, metav1.ListOptions{LabelSelector: ManagedSelector(f.name)})
		return err
	})
	if err != nil {
		return "", &APIError{Verb: "list", Resource: "pods", Namespace: f.ns, Err: err}
	}
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil && (p.Status.PodIP == ip ||
			slices.ContainsFunc(p.Status.PodIPs, func(i corev1.PodIP) bool { return i.IP == ip })) {
			return p.Name, nil
		}
	}
	return "", fmt.Errorf("no pod of plugin %s in namespace %s has the IP %s any more", f.name, f.ns, ip)
}

// connect opens a port-forward connection to pod as kubectl port-forward
// does: SPDY tunnelled over a WebSocket, or SPDY alone when the API
// server does not upgrade to a WebSocket. The dial has no context of its
// own: when ctx ends first, the connection is closed as it comes.
func (f *forwarder) connect(ctx context.Context, pod string) (streamhttp.Connection, error) {
	u := f.c.CoreV1().RESTClient().Post().Resource("pods").Namespace(f.ns).Name(pod).SubResource("portforward").URL()
	transport, upgrader, err := spdy.RoundTripperFor(f.conf)
	if err != nil {
		return nil, err
	}
	dialer := spdy.NewDialerForStreaming(upgrader, &http.Client{Transport: transport}, http.MethodPost, u)
	tunnel, err := portforward.NewSPDYOverWebsocketDialerForStreaming(u, f.conf)
	if err != nil {
		return nil, err
	}
	dialer = portforward.NewFallbackDialerForStreaming(tunnel, dialer, func(err error) bool {
		return streamhttp.IsUpgradeFailure(err) || streamhttp.IsHTTPSProxyError(err)
	})
	type result struct {
		conn streamhttp.Connection
		err  error
	}
	done := make(chan result, 1)
	go func() {
		conn, proto, err := dialer.Dial(portforward.PortForwardProtocolV1Name)
		if err == nil && proto != portforward.PortForwardProtocolV1Name {
			_ = conn.Close()
			conn, err = nil, fmt.Errorf("the API server offered protocol %q, not %q", proto, portforward.PortForwardProtocolV1Name)
		}
		done <- result{conn, err}
	}()
	select {
	case r := <-done:
		return r.conn, r.err
	case <-ctx.Done():
		go func() {
			if r := <-done; r.conn != nil {
				_ = r.conn.Close()
			}
		}()
		return nil, context.Cause(ctx)
	}
}
