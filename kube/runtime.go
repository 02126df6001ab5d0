// Package kube is tether's runtime for plugins on Kubernetes: a plugin is a
// Deployment of pods, each a network plugin (TETHER_LISTEN on its pod IP,
// mutual TLS), behind a Service. Importing it registers the kube scheme
// with tether.Open:
//
//	kube://NAMESPACE/NAME
//
// Open deploys the plugin from a spec (WithDeploy) when its Deployment does
// not exist, waits until every replica is ready, then follows the
// Service's EndpointSlices: every ready pod is one instance, and calls are
// balanced over them pod by pod. Close removes what Open created unless
// WithOutliveHost. The TLS options, their rules and the connections'
// keepalive and backoff are package remote's, shared with the network
// runtime. See docs/kubernetes.md.
package kube

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/remote"
)

func init() { tether.RegisterRuntime(builder{}) }

type builder struct{}

// Scheme is "kube".
func (builder) Scheme() string { return scheme }

// DialOptions are remote's keepalive and reconnection backoff (pods are
// network plugins).
func (builder) DialOptions() []grpc.DialOption { return remote.DialOptions() }

// ParseTarget splits kube://NAMESPACE/NAME into its namespace and name.
func ParseTarget(t tether.Target) (ns, name string, err error) {
	name = strings.TrimPrefix(t.Path, "/")
	if t.Authority == "" || name == "" || strings.Contains(name, "/") {
		return "", "", &tether.PluginError{Plugin: t.Raw, Kind: tether.ErrBadTarget,
			Detail: "a kube target is kube://NAMESPACE/NAME"}
	}
	if err := validateName(t.Raw, "target namespace", t.Authority); err != nil {
		return "", "", err
	}
	if err := validateName(t.Raw, "target name", name); err != nil {
		return "", "", err
	}
	return t.Authority, name, nil
}

func (builder) Build(ctx context.Context, t tether.Target, env tether.RuntimeEnv) (tether.Runtime, error) {
	ns, name, err := ParseTarget(t)
	if err != nil {
		return nil, err
	}
	var cfg config
	tether.ApplyRuntimeOptions(env, &cfg)
	tr, err := tlsOptions.Transport(t, env)
	if err != nil {
		return nil, err
	}
	c := cfg.client
	if c == nil {
		if c, err = NewClient(cfg.kubeconfig); err != nil {
			return nil, &tether.PluginError{Plugin: name, Kind: tether.ErrHost, Detail: "no Kubernetes client configuration", Err: err}
		}
	}
	r := &runtime{c: c, ns: ns, name: name, outlive: cfg.outlive, env: env, tr: tr}
	if r.pf, err = newForwarder(cfg, c, ns, name, env.Logger); err != nil {
		return nil, err
	}
	d, err := r.findOrDeploy(ctx, cfg)
	if err != nil {
		return nil, err
	}
	timeout := cfg.timeout
	if timeout <= 0 {
		timeout = env.StartTimeout
	}
	if d, err = waitReady(ctx, c, d, timeout); err != nil {
		r.removeCreated(ctx)
		return nil, err
	}
	port := containerPort(d, cfg.spec)
	if r.follow, err = follow(ctx, c, ns, name, port, r.report, env.Logger); err != nil {
		r.removeCreated(ctx)
		return nil, err
	}
	if err := r.reachable(ctx, d); err != nil {
		r.once.Do(r.follow.close)
		r.removeCreated(ctx)
		return nil, err
	}
	return r, nil
}

// runtime is one loaded kube target.
type runtime struct {
	c        kubernetes.Interface
	ns, name string
	outlive  bool
	created  bool // Build created the Deployment and Service
	env      tether.RuntimeEnv
	tr       *remote.Transport
	follow   *follower
	pf       *forwarder // WithPortForward: the pods are reached through the API server
	once     sync.Once
}

// findOrDeploy attaches to the plugin's Deployment, or deploys the spec.
func (r *runtime) findOrDeploy(ctx context.Context, cfg config) (*appsv1.Deployment, error) {
	var d *appsv1.Deployment
	err := withRetry(ctx, func() (err error) {
		d, err = r.c.AppsV1().Deployments(r.ns).Get(ctx, r.name, metav1.GetOptions{})
		return err
	})
	switch {
	case err == nil && !managed(d.Labels, r.name):
		return nil, badField(r.name, "target name", fmt.Sprintf("Deployment %s/%s exists and is not managed by tether (no %s=%s label)",
			r.ns, r.name, LabelManagedBy, ManagedBy), nil)
	case err == nil:
		r.env.Logger.Info("attaching to a deployed plugin", "plugin", r.name, "namespace", r.ns)
		return d, nil
	case !isNotFound(err):
		return nil, apiFailure(r.name, "get", "deployments.apps", r.name, r.ns, err)
	case cfg.spec == nil:
		return nil, &tether.PluginError{Plugin: r.name, Kind: tether.ErrBadTarget, Detail: fmt.Sprintf(
			"there is no Deployment %s in namespace %s, and no kube.WithDeploy spec to create one", r.name, r.ns)}
	}
	spec := *cfg.spec
	if spec.Name == "" {
		spec.Name = r.name
	} else if spec.Name != r.name {
		return nil, badField(r.name, "spec.name", fmt.Sprintf("%q is not the target's name %q", spec.Name, r.name), nil)
	}
	d, err = deploy(ctx, r.c, r.ns, &spec, DeployOptions{PinnedImages: cfg.pinned, Insecure: !r.tr.Secure()})
	if err != nil {
		return nil, err
	}
	r.created = true
	return d, nil
}

// containerPort is the port the plugin's pods serve on.
func containerPort(d *appsv1.Deployment, spec *Spec) int32 {
	if spec != nil && spec.Port != 0 {
		return spec.Port
	}
	for _, c := range d.Spec.Template.Spec.Containers {
		for _, p := range c.Ports {
			return p.ContainerPort
		}
	}
	return 0 // the slices' only port
}

// report turns the ready pods' addresses into the client's endpoints.
func (r *runtime) report(addrs []string) {
	eps := make([]tether.Endpoint, 0, len(addrs))
	for _, a := range addrs {
		// No Instance: the pods' ends are seen through the slices. A pod
		// IP proves nothing, so the name is the Service's, not the pod's.
		ep := r.pf.route(r.tr.Endpoint("tcp", a, ServerName(r.name, r.ns)), a)
		ep.Replaceable = true
		eps = append(eps, ep)
	}
	r.env.Endpoints.UpdateEndpoints(eps)
}

// Close stops following the endpoints and, unless the plugin outlives the
// host or was only attached to, removes its Deployment and Service and
// waits until they and their pods are gone.
func (r *runtime) Close(ctx context.Context, _ func(context.Context, tether.Endpoint) error) error {
	r.once.Do(func() {
		r.follow.close()
	})
	if !r.created || r.outlive {
		return nil
	}
	return Remove(ctx, r.c, r.ns, r.name)
}

// removeCreated undoes a Build that failed after it created the objects.
func (r *runtime) removeCreated(ctx context.Context) {
	if !r.created {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := Remove(rctx, r.c, r.ns, r.name); err != nil {
		r.env.Logger.Warn("could not remove the plugin's objects after a failed deploy", "plugin", r.name, "error", err)
	}
}

// ServerName is the name a plugin's pods' certificate carries by default:
// its Service's DNS name.
func ServerName(name, ns string) string { return name + "." + ns + ".svc" }
