// Package kube is tether's runtime for plugins on Kubernetes: a plugin is a
// Deployment of pods, each a network plugin (TETHER_LISTEN on its pod IP,
// mutual TLS), behind a Service. Importing it registers the kube scheme
// with tether.Open:
//
//	kube://NAMESPACE/NAME
//
// Open deploys the plugin from a spec (WithDeploy) when its Deployment does
// not exist and waits until every replica is ready (attaching to a
// deployed plugin needs one ready endpoint), then follows the Service's
// EndpointSlices: every ready pod is one instance, and calls are balanced
// over them pod by pod. Hosts that deploy one target share it,
// each holding a Lease that owns the Deployment; the last one's Close
// removes it, and the garbage collector does when the last host was
// killed, unless WithOutliveHost (share.go). The TLS options, their rules
// and the connections' keepalive and backoff are package remote's, shared
// with the network runtime. See docs/kubernetes.md.
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
	began := time.Now()
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
		if c, err = sharedClient(cfg.kubeconfig, cfg.context); err != nil {
			return nil, &tether.PluginError{Plugin: name, Kind: tether.ErrHost, Detail: "no Kubernetes client configuration", Err: err}
		}
	}
	r := &runtime{c: c, ns: ns, name: name, outlive: cfg.outlive, env: env, tr: tr}
	if r.pf, err = newForwarder(cfg, c, ns, name, env.Logger); err != nil {
		return nil, err
	}
	if cfg.spec != nil && !cfg.outlive {
		if r.share, err = newClaim(ctx, c, ns, name, env.Logger); err != nil {
			return nil, err
		}
	}
	if err := r.start(ctx, cfg, began); err != nil {
		return nil, err
	}
	return r, nil
}

// start attaches to the plugin or deploys it, waits until it can take
// calls, and follows its endpoints (and its pods' logs); when it fails, it
// removes what it created.
func (r *runtime) start(ctx context.Context, cfg config, began time.Time) error {
	cl := r.share // converge drops it on a permanent plugin
	d, err := r.converge(ctx, cfg)
	if err != nil {
		r.removeCreated(ctx)
		return err
	}
	cl.sweep(ctx)
	timeout := cfg.timeout
	if timeout <= 0 {
		timeout = r.env.StartTimeout
	}
	if r.created {
		// A new plugin: every replica, as tether kube deploy waits for.
		// An attach needs only one ready endpoint (reachable).
		if d, err = waitReady(ctx, r.c, d, timeout); err != nil {
			r.removeCreated(ctx)
			return err
		}
	}
	if r.follow, err = follow(ctx, r.c, r.ns, r.name, containerPort(d, cfg.spec), r.report, r.env.Logger); err != nil {
		r.removeCreated(ctx)
		return err
	}
	if err = r.reachable(ctx, d, timeout); err == nil {
		r.logs, err = startPodLogs(ctx, r, cfg, began)
	}
	if err != nil {
		r.once.Do(r.follow.close)
		r.removeCreated(ctx)
	}
	return err
}

// runtime is one loaded kube target.
type runtime struct {
	c        kubernetes.Interface
	ns, name string
	outlive  bool
	created  bool   // Build created the Deployment and Service
	share    *claim // the host's Lease on the plugin; nil if it holds none
	env      tether.RuntimeEnv
	tr       *remote.Transport
	follow   *follower
	logs     *logFollower // WithPodLogs
	pf       *forwarder   // WithPortForward: the pods are reached through the API server
	once     sync.Once
}

// findOrDeploy attaches to the plugin's Deployment, or deploys the spec.
// A create that lost the race to another host, or a Deployment found being
// deleted, is errGone or lostRace, which converge retries.
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
		return r.attach(ctx, d)
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
	if r.env.Tracing {
		spec.Env = tracingEnv(spec.Env)
	}
	d, _, err = deploy(ctx, r.c, r.ns, &spec, DeployOptions{PinnedImages: cfg.pinned, Insecure: !r.tr.Secure(),
		createOnly: true, owners: r.share.owners()})
	if err != nil {
		return nil, err
	}
	r.created = true
	r.share.created()
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

// Close stops following the endpoints and ends the host's claim on the
// plugin: when it was the last host holding it, its Deployment and Service
// are removed and Close waits until they and their pods are gone (see
// claim.release). A plugin that outlives its hosts, or that was only
// attached to, is left.
func (r *runtime) Close(ctx context.Context, _ func(context.Context, tether.Endpoint) error) error {
	r.once.Do(func() {
		if r.follow != nil {
			r.follow.close()
		}
		r.logs.close()
	})
	if r.share == nil {
		return nil
	}
	return r.share.release(ctx)
}

// removeCreated undoes a Build that failed: the host's claim ends (the
// plugin is removed if no other host holds it), and what an outliving
// host created is removed.
func (r *runtime) removeCreated(ctx context.Context) {
	if r.share == nil && !r.created {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	var err error
	if r.share != nil {
		err = r.share.release(rctx)
	} else {
		err = Remove(rctx, r.c, r.ns, r.name)
	}
	if err != nil {
		r.env.Logger.Warn("could not remove the plugin's objects after a failed deploy", "plugin", r.name, "error", err)
	}
}

// ServerName is the name a plugin's pods' certificate carries by default:
// its Service's DNS name.
func ServerName(name, ns string) string { return name + "." + ns + ".svc" }
