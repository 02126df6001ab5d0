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
// WithOutlive. See docs/kubernetes.md.
package kube

import (
	"context"
	"crypto/tls"
	"fmt"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/network"
)

func init() { tether.RegisterRuntime(builder{}) }

type builder struct{}

// Scheme is "kube".
func (builder) Scheme() string { return scheme }

// DialOptions are the network runtime's keepalive and reconnection
// backoff: pods are network plugins.
func (builder) DialOptions() []grpc.DialOption { return network.DialOptions() }

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
	creds, serverName, err := cfg.creds(name, ns)
	if err != nil {
		return nil, err
	}
	c := cfg.client
	if c == nil {
		if c, err = NewClient(cfg.kubeconfig); err != nil {
			return nil, &tether.PluginError{Plugin: name, Kind: tether.ErrHost, Detail: "no Kubernetes client configuration", Err: err}
		}
	}
	r := &runtime{c: c, ns: ns, name: name, outlive: cfg.outlive, env: env, creds: creds, serverName: serverName}
	d, err := r.findOrDeploy(ctx, cfg)
	if err != nil {
		return nil, err
	}
	timeout := cfg.timeout
	if timeout <= 0 {
		timeout = env.StartTimeout
	}
	if err := waitReady(ctx, c, d, timeout); err != nil {
		r.removeCreated(ctx)
		return nil, err
	}
	port := containerPort(d, cfg.spec)
	r.follow = follow(c, ns, name, port, r.report)
	if !r.follow.synced() {
		r.removeCreated(ctx)
		return nil, &tether.PluginError{Plugin: name, Kind: tether.ErrUnavailable, Detail: "could not list the Service's EndpointSlices"}
	}
	return r, nil
}

// runtime is one loaded kube target.
type runtime struct {
	c          kubernetes.Interface
	ns, name   string
	outlive    bool
	created    bool // Build created the Deployment and Service
	env        tether.RuntimeEnv
	creds      credentials.TransportCredentials
	serverName string
	follow     *follower
	once       sync.Once
}

// findOrDeploy attaches to the plugin's Deployment, or deploys the spec.
func (r *runtime) findOrDeploy(ctx context.Context, cfg config) (*appsv1.Deployment, error) {
	var d *appsv1.Deployment
	err := withRetry(func() (err error) {
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
		return nil, apiFailure(r.name, "get", "deployments.apps", r.ns, err)
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
	d, err = deploy(ctx, r.c, r.ns, &spec, DeployOptions{PinnedImages: cfg.pinned, Insecure: cfg.insecure})
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
		// No Instance: the pods' ends are seen through the slices.
		eps = append(eps, tether.Endpoint{Network: "tcp", Address: a, Creds: r.creds,
			ServerName: r.serverName, HealthChecked: true, Replaceable: true})
	}
	r.env.Endpoints.UpdateEndpoints(eps)
}

// Close stops following the endpoints and, unless the plugin outlives the
// host or was only attached to, removes its Deployment and Service and
// waits until they and their pods are gone.
func (r *runtime) Close(ctx context.Context, _ func(context.Context, tether.Endpoint) error) error {
	r.once.Do(r.follow.close)
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

// creds are the transport credentials of the pods' connections and the
// name their certificate must carry.
func (c config) creds(name, ns string) (credentials.TransportCredentials, string, error) {
	bad := func(detail string) error {
		return &tether.PluginError{Plugin: name, Kind: tether.ErrBadTarget, Detail: detail}
	}
	switch {
	case c.tlsFiles != nil && c.tlsConfig != nil:
		return nil, "", bad("give kube.WithTLSFiles or kube.WithTLSConfig, not both")
	case c.insecure && c.hasTLS():
		return nil, "", bad("kube.WithInsecure contradicts the TLS option also given")
	case c.insecure:
		return insecure.NewCredentials(), "", nil
	case !c.hasTLS():
		return nil, "", bad("a kube target requires TLS: give kube.WithTLSFiles(cert, key, ca) or kube.WithTLSConfig, " +
			"or kube.WithInsecure() to connect in plaintext")
	}
	var conf *tls.Config
	if c.tlsConfig != nil {
		conf = c.tlsConfig.Clone()
	} else {
		var err error
		if conf, err = network.ClientTLSFromFiles(name, c.tlsFiles[0], c.tlsFiles[1], c.tlsFiles[2]); err != nil {
			return nil, "", err
		}
	}
	conf.MinVersion = max(conf.MinVersion, tls.VersionTLS12)
	sn := c.serverName
	if sn == "" {
		sn = conf.ServerName
	}
	if sn == "" {
		sn = ServerName(name, ns)
	}
	return credentials.NewTLS(conf), sn, nil
}

// ServerName is the name a plugin's pods' certificate carries by default:
// its Service's DNS name.
func ServerName(name, ns string) string { return name + "." + ns + ".svc" }
