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
}

// DefaultReadyTimeout is how long Deploy waits for the replicas by default.
const DefaultReadyTimeout = 2 * time.Minute

// Deploy validates spec, creates its Deployment and Service in namespace
// ns, and waits until every replica is ready and listed ready in the
// Service's EndpointSlices (so that a client opened next sees them all);
// a spec of 0 replicas is not waited for. A spec that fails validation
// creates nothing (tether.ErrBadTarget wrapping a *FieldError). If the
// replicas are not ready in time, what was created is removed and the error
// (tether.ErrStartTimeout wrapping a *NotReadyError) says why.
func Deploy(ctx context.Context, c kubernetes.Interface, ns string, spec Spec, o DeployOptions) error {
	d, err := deploy(ctx, c, ns, &spec, o)
	if err != nil || desired(d) == 0 { // at 0 replicas there is nothing to wait for
		return err
	}
	ctx = withProgress(ctx, o.Progress)
	start := time.Now()
	d, err = waitReady(ctx, c, d, o.ReadyTimeout)
	if err == nil {
		err = waitListed(ctx, c, d, containerPort(d, &spec), o.ReadyTimeout-time.Since(start))
	}
	if err != nil {
		rmCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = Remove(rmCtx, c, ns, spec.Name)
		return err
	}
	return nil
}

// deploy validates and creates; it returns the created Deployment.
func deploy(ctx context.Context, c kubernetes.Interface, ns string, spec *Spec, o DeployOptions) (*appsv1.Deployment, error) {
	if err := validateName(spec.Name, "namespace", ns); err != nil {
		return nil, err
	}
	if err := spec.validate(ctx, c, ns, o.PinnedImages, o.Insecure); err != nil {
		return nil, err
	}
	d, svc := spec.objects(ns, o.Insecure)
	var created *appsv1.Deployment
	err := withRetry(ctx, func() (err error) {
		created, err = c.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{})
		return err
	})
	if err != nil {
		return nil, apiFailure(spec.Name, "create", "deployments.apps", spec.Name, ns, err)
	}
	// The Service goes with its Deployment: the garbage collector removes
	// it when the Deployment is deleted, even by someone other than tether.
	svc.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(created, appsv1.SchemeGroupVersion.WithKind("Deployment"))}
	err = withRetry(ctx, func() error {
		_, err := c.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{})
		return err
	})
	if err != nil {
		_ = deleteObjects(context.WithoutCancel(ctx), c, ns, spec.Name)
		return nil, apiFailure(spec.Name, "create", "services", spec.Name, ns, err)
	}
	return created, nil
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
