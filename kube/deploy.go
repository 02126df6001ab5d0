package kube

import (
	"context"
	"errors"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/tetherplug/tether"
)

// DeployOptions are the choices of one Deploy.
type DeployOptions struct {
	// PinnedImages refuses images not pinned by digest.
	PinnedImages bool
	// Insecure allows a spec without a TLS Secret (the plugin then serves
	// plaintext).
	Insecure bool
	// ReadyTimeout bounds the wait for every replica to be ready; 0 means
	// DefaultReadyTimeout.
	ReadyTimeout time.Duration
	// Progress, if set, is told while Deploy waits how many replicas are
	// ready and why one is not (a *NotReadyError without log lines), each
	// time that changes.
	Progress func(*NotReadyError)

	// Open's: a host creates (never updates) the plugin, owned by its
	// Lease when it shares it (share.go).
	createOnly bool
	owners     []metav1.OwnerReference
}

// DefaultReadyTimeout is how long Deploy waits for the replicas by default.
const DefaultReadyTimeout = 2 * time.Minute

// FieldManager is the field manager of tether's server-side applies, as
// "kubectl" is kubectl's: managedFields say which fields tether set.
const FieldManager = "tether"

// Deploy validates spec and applies its Deployment and Service to namespace
// ns (server-side apply, field manager FieldManager): it creates them, or
// updates a plugin tether deployed before, which rolls it out. It then
// waits until every replica runs the spec and is ready, and is listed
// ready in the Service's EndpointSlices (so that a client opened next sees
// them all). A spec that fails validation changes nothing
// (tether.ErrBadTarget wrapping a *FieldError), and so does a Deployment
// of that name that is not tether's. A spec of 0 replicas is not waited
// for. If the replicas are not ready in
// time, the error (tether.ErrStartTimeout wrapping a *NotReadyError) says
// why, and what Deploy created is removed; a plugin that existed before is
// left as the rollout left it (its old pods keep serving while a rollout
// is stuck).
func Deploy(ctx context.Context, c kubernetes.Interface, ns string, spec Spec, o DeployOptions) error {
	d, created, err := deploy(ctx, c, ns, &spec, o)
	if err != nil || desired(d) == 0 { // at 0 replicas there is nothing to wait for
		return err
	}
	ctx = withProgress(ctx, o.Progress)
	start := time.Now()
	d, err = waitReady(ctx, c, d, o.ReadyTimeout)
	if err == nil {
		err = waitListed(ctx, c, d, containerPort(d, &spec), o.ReadyTimeout-time.Since(start))
	}
	if err != nil && created {
		rmCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = Remove(rmCtx, c, ns, spec.Name)
	}
	return err
}

// deploy validates the spec and writes its objects; it returns the
// Deployment as written and whether it did not exist before. A host's
// deploy (o.createOnly, with its Lease among o.owners) creates, so that of
// hosts racing to deploy one plugin exactly one does (the others' create
// finds it exists, and they attach: share.go); any other deploy applies,
// creating or updating (an upgrade).
func deploy(ctx context.Context, c kubernetes.Interface, ns string, spec *Spec, o DeployOptions) (*appsv1.Deployment, bool, error) {
	if err := validateName(spec.Name, "namespace", ns); err != nil {
		return nil, false, err
	}
	if err := spec.validate(ctx, c, ns, o.PinnedImages, o.Insecure); err != nil {
		return nil, false, err
	}
	live, err := notOthers(ctx, c, ns, spec.Name)
	if err != nil {
		return nil, false, err
	}
	d, svc := spec.objects(ns, o.Insecure)
	if o.createOnly {
		d.OwnerReferences = append(d.OwnerReferences, o.owners...)
		created, err := createObjects(ctx, c, d, svc)
		return created, true, err
	}
	applied, err := applyObjects(ctx, c, d, svc, live)
	return applied, live.deployment == nil, err
}

// createObjects creates d, then svc owned by it; a Service that cannot be
// created takes the Deployment away with it.
func createObjects(ctx context.Context, c kubernetes.Interface, d *appsv1.Deployment, svc *corev1.Service) (*appsv1.Deployment, error) {
	opts := metav1.CreateOptions{FieldManager: FieldManager}
	var created *appsv1.Deployment
	err := withRetry(ctx, func() (err error) {
		created, err = c.AppsV1().Deployments(d.Namespace).Create(ctx, d, opts)
		return err
	})
	if err != nil {
		return nil, apiFailure(d.Name, "create", "deployments.apps", d.Name, d.Namespace, err)
	}
	svc.OwnerReferences = []metav1.OwnerReference{controllerRef(created)}
	err = withRetry(ctx, func() error {
		_, err := c.CoreV1().Services(svc.Namespace).Create(ctx, svc, opts)
		return err
	})
	if err != nil {
		_ = deleteObjects(context.WithoutCancel(ctx), c, d.Namespace, d.Name)
		return nil, apiFailure(d.Name, "create", "services", d.Name, d.Namespace, err)
	}
	return created, nil
}

// controllerRef is the owner reference of the Service to its Deployment:
// the garbage collector removes the Service when the Deployment is
// deleted, even by someone other than tether.
func controllerRef(d *appsv1.Deployment) metav1.OwnerReference {
	return *metav1.NewControllerRef(d, appsv1.SchemeGroupVersion.WithKind("Deployment"))
}

// Remove deletes plugin name's Deployment and Service from namespace ns,
// if tether manages them, and waits until they and the pods are gone (the
// Deployment is deleted in the foreground). Objects already gone are no
// error.
func Remove(ctx context.Context, c kubernetes.Interface, ns, name string) error {
	if err := deleteObjects(ctx, c, ns, name); err != nil {
		return err
	}
	return waitGone(ctx, c, ns, name)
}

// deleteObjects deletes what Deploy created, if tether's labels are on it.
func deleteObjects(ctx context.Context, c kubernetes.Interface, ns, name string) error {
	fg := metav1.DeletePropagationForeground
	opts := metav1.DeleteOptions{PropagationPolicy: &fg}
	err := withRetry(ctx, func() error {
		d, err := c.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil || !managed(d.Labels, name) {
			return err
		}
		return c.AppsV1().Deployments(ns).Delete(ctx, name, opts)
	})
	if err != nil && !isNotFound(err) {
		return apiFailure(name, "delete", "deployments.apps", name, ns, err)
	}
	err = withRetry(ctx, func() error {
		s, err := c.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil || !managed(s.Labels, name) {
			return err
		}
		return c.CoreV1().Services(ns).Delete(ctx, name, opts)
	})
	if err != nil && !isNotFound(err) {
		return apiFailure(name, "delete", "services", name, ns, err)
	}
	return nil
}

// managed reports whether an object's labels say tether deployed it as name.
func managed(l map[string]string, name string) bool {
	return l[LabelManagedBy] == ManagedBy && l[LabelPlugin] == name
}

// waitGone waits until no Deployment, Service or pod of plugin name is left.
func waitGone(ctx context.Context, c kubernetes.Interface, ns, name string) error {
	sel := metav1.ListOptions{LabelSelector: ManagedSelector(name)}
	for {
		left := 0
		deps, err := c.AppsV1().Deployments(ns).List(ctx, sel)
		if err == nil {
			left += len(deps.Items)
			var svcs *corev1.ServiceList
			if svcs, err = c.CoreV1().Services(ns).List(ctx, sel); err == nil {
				left += len(svcs.Items)
				var pods *corev1.PodList
				if pods, err = c.CoreV1().Pods(ns).List(ctx, sel); err == nil {
					left += len(pods.Items)
				}
			}
		}
		if err != nil && !Retryable(err) {
			return apiFailure(name, "list", "deployments.apps, services and pods", "", ns, err)
		}
		if err == nil && left == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return &tether.PluginError{Plugin: name, Kind: tether.ErrHost, Err: ctx.Err(),
				Detail: fmt.Sprintf("%d objects of the plugin are still in namespace %s", left, ns)}
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// ErrNoSuchPlugin is wrapped by CheckDeployed's error when the namespace
// has neither a Deployment nor a Service of that name.
var ErrNoSuchPlugin = errors.New("no such plugin")

// CheckDeployed says whether tether deployed plugin name in namespace ns:
// an error wrapping ErrNoSuchPlugin when there is no Deployment and no
// Service of that name; one naming the object when one exists without
// tether's labels (Remove leaves it alone); nil when there is something of
// tether's to remove. It is what `tether kube rm` checks first, as kubectl
// delete says an object was not found.
func CheckDeployed(ctx context.Context, c kubernetes.Interface, ns, name string) error {
	d, derr := c.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	s, serr := c.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
	switch {
	case derr != nil && !isNotFound(derr):
		return apiFailure(name, "get", "deployments.apps", name, ns, derr)
	case serr != nil && !isNotFound(serr):
		return apiFailure(name, "get", "services", name, ns, serr)
	case derr != nil && serr != nil:
		return fmt.Errorf("plugin %s in namespace %s: %w: no Deployment or Service of that name", name, ns, ErrNoSuchPlugin)
	case derr == nil && managed(d.Labels, name), serr == nil && managed(s.Labels, name):
		return nil
	case derr == nil:
		return fmt.Errorf("plugin %s in namespace %s: Deployment %s is not tether's (no %s=%s and %s=%s labels): leaving it alone",
			name, ns, name, LabelManagedBy, ManagedBy, LabelPlugin, name)
	}
	return fmt.Errorf("plugin %s in namespace %s: Service %s is not tether's (no %s=%s and %s=%s labels): leaving it alone",
		name, ns, name, LabelManagedBy, ManagedBy, LabelPlugin, name)
}
