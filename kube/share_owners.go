package kube

import (
	"context"
	"errors"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/tetherplug/tether"
)

// errGone says the plugin's Deployment went (or is going) while a host
// attached to it: the host looks again, and deploys it anew if it may.
var errGone = errors.New("the plugin's Deployment is being deleted")

// ownersBackoff repeats an update of a Deployment's owners that lost a race
// with another writer (another host, the Deployment controller's status).
var ownersBackoff = wait.Backoff{Steps: 12, Duration: 20 * time.Millisecond, Factor: 1.5, Jitter: 0.5}

// isLeaseOwner reports whether an owner reference is a Lease's.
func isLeaseOwner(o metav1.OwnerReference) bool {
	return o.Kind == leaseKind && o.APIVersion == leaseAPIVersion
}

// shared reports whether hosts share the plugin's Deployment through their
// Leases: it lists a Lease owner and no host made it permanent. A plugin
// without Lease owners (tether kube deploy, WithOutliveHost) is permanent.
func shared(d *appsv1.Deployment) bool {
	if d.Annotations[AnnotationOutlive] != "" {
		return false
	}
	for _, o := range d.OwnerReferences {
		if isLeaseOwner(o) {
			return true
		}
	}
	return false
}

// updateOwners applies edit to the current Deployment of the plugin and
// updates it, repeating on a conflict: the update carries the
// resourceVersion it read, so concurrent hosts never overwrite one
// another's owner references. edit returns false to leave the Deployment
// as it is. A Deployment that is gone or being deleted is errGone.
func updateOwners(ctx context.Context, c kubernetes.Interface, ns, name string, edit func(*appsv1.Deployment) bool) (*appsv1.Deployment, error) {
	var d *appsv1.Deployment
	err := retry.OnError(ownersBackoff, func(err error) bool {
		return ctx.Err() == nil && (apierrors.IsConflict(err) || Retryable(err))
	}, func() (err error) {
		if d, err = c.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{}); err != nil {
			return err
		}
		if d.DeletionTimestamp != nil || !managed(d.Labels, name) {
			return nil
		}
		next := d.DeepCopy()
		if !edit(next) {
			return nil
		}
		d, err = c.AppsV1().Deployments(ns).Update(ctx, next, metav1.UpdateOptions{})
		return err
	})
	switch {
	case isNotFound(err), err == nil && d.DeletionTimestamp != nil:
		return nil, errGone
	case err != nil:
		return nil, apiFailure(name, "update", "deployments.apps", name, ns, err)
	}
	return d, nil
}

// join lists the claim's Lease among the owners of the plugin's Deployment
// when the plugin is shared; it reports whether it did (false: the plugin
// is permanent, and the host holds no claim on it).
func (cl *claim) join(ctx context.Context) (*appsv1.Deployment, bool, error) {
	own := cl.owner()
	claimed := false
	d, err := updateOwners(ctx, cl.c, cl.ns, cl.plugin, func(d *appsv1.Deployment) bool {
		if claimed = shared(d); !claimed {
			return false
		}
		for _, o := range d.OwnerReferences {
			if o.UID == own.UID {
				return false
			}
		}
		d.OwnerReferences = append(d.OwnerReferences, own)
		return true
	})
	if err != nil {
		return nil, false, err
	}
	cl.mu.Lock()
	cl.claimed = claimed
	cl.mu.Unlock()
	return d, claimed, nil
}

// leave removes the claim's Lease from the owners of the plugin's
// Deployment (the garbage collector would too, once the Lease is gone).
func (cl *claim) leave(ctx context.Context) error {
	own := cl.owner()
	_, err := updateOwners(ctx, cl.c, cl.ns, cl.plugin, func(d *appsv1.Deployment) bool {
		n := len(d.OwnerReferences)
		d.OwnerReferences = dropOwners(d.OwnerReferences, func(o metav1.OwnerReference) bool { return o.UID == own.UID })
		return len(d.OwnerReferences) != n
	})
	if errors.Is(err, errGone) {
		return nil
	}
	return err
}

// makePermanent is what a WithOutliveHost host does to a shared plugin:
// annotate it tether.dev/outlive and remove its Lease owners, so that the
// garbage collector never removes it.
func makePermanent(ctx context.Context, c kubernetes.Interface, ns, name string) (*appsv1.Deployment, error) {
	return updateOwners(ctx, c, ns, name, func(d *appsv1.Deployment) bool {
		if !shared(d) {
			return false
		}
		if d.Annotations == nil {
			d.Annotations = map[string]string{}
		}
		d.Annotations[AnnotationOutlive] = "true"
		d.OwnerReferences = dropOwners(d.OwnerReferences, isLeaseOwner)
		return true
	})
}

// dropOwners is refs without those drop matches.
func dropOwners(refs []metav1.OwnerReference, drop func(metav1.OwnerReference) bool) []metav1.OwnerReference {
	out := refs[:0:0]
	for _, o := range refs {
		if !drop(o) {
			out = append(out, o)
		}
	}
	return out
}

// release ends the host's claim: it stops renewing and deletes the Lease;
// then, if the host had claimed the plugin and no other host holds a live
// Lease on it, it removes the plugin as Remove does and waits until it is
// gone, unless a host made it permanent meanwhile. Otherwise the plugin is
// left to the other hosts.
func (cl *claim) release(ctx context.Context) error {
	cl.stopRenewing()
	if err := cl.deleteLease(ctx); err != nil {
		return err
	}
	cl.mu.Lock()
	claimed := cl.claimed
	cl.mu.Unlock()
	if !claimed {
		return nil
	}
	for attempt := 0; ; attempt++ {
		live, err := liveLeases(ctx, cl.c, cl.ns, cl.plugin, time.Now())
		if err != nil {
			return err
		}
		if live > 0 {
			return cl.leave(ctx)
		}
		done, err := removeUnheld(ctx, cl.c, cl.ns, cl.plugin)
		if done || !apierrors.IsConflict(err) || attempt == 5 {
			return err
		}
	}
}

// removeUnheld removes a shared plugin that no live Lease holds: its
// expired Leases (a Lease taken meanwhile is kept), then its Deployment (in the foreground, on the condition
// that it is the version read, so that a host joining meanwhile keeps it)
// and its Service, and waits until they and its pods are gone. It reports
// false with the API's Conflict when the Deployment changed meanwhile.
func removeUnheld(ctx context.Context, c kubernetes.Interface, ns, name string) (bool, error) {
	leases := c.CoordinationV1().Leases(ns)
	list, err := leases.List(ctx, metav1.ListOptions{LabelSelector: ManagedSelector(name)})
	if err != nil {
		return false, apiFailure(name, "list", "leases.coordination.k8s.io", "", ns, err)
	}
	for _, l := range list.Items {
		if expired(&l, time.Now()) {
			pre := &metav1.Preconditions{UID: &l.UID, ResourceVersion: &l.ResourceVersion}
			_ = leases.Delete(ctx, l.Name, metav1.DeleteOptions{Preconditions: pre})
		}
	}
	d, err := c.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	switch {
	case isNotFound(err):
		return true, waitGone(ctx, c, ns, name)
	case err != nil:
		return false, apiFailure(name, "get", "deployments.apps", name, ns, err)
	case !managed(d.Labels, name) || d.Annotations[AnnotationOutlive] != "":
		return true, nil
	}
	fg := metav1.DeletePropagationForeground
	err = c.AppsV1().Deployments(ns).Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &fg,
		Preconditions: &metav1.Preconditions{UID: &d.UID, ResourceVersion: &d.ResourceVersion}})
	if err != nil && !isNotFound(err) {
		return false, apiFailure(name, "delete", "deployments.apps", name, ns, err)
	}
	return true, Remove(ctx, c, ns, name)
}

// converge is findOrDeploy, again while it lost a create race to another
// host (it then attaches) or found the Deployment being deleted by its last
// host (it then deploys it anew, given a spec).
func (r *runtime) converge(ctx context.Context, cfg config) (*appsv1.Deployment, error) {
	for attempt := 0; ; attempt++ {
		d, err := r.findOrDeploy(ctx, cfg)
		if attempt < 5 && (lostRace(err) || (cfg.spec != nil && errors.Is(err, errGone))) {
			continue
		}
		return d, err
	}
}

// attach joins a Deployment Open found: a host with a claim lists its
// Lease among the owners when the plugin is shared, and gives the claim up
// when it is permanent; an outliving host makes a shared plugin permanent.
// A Deployment being deleted is waited for, then errGone.
func (r *runtime) attach(ctx context.Context, d *appsv1.Deployment) (*appsv1.Deployment, error) {
	if d.DeletionTimestamp != nil {
		if err := waitGone(ctx, r.c, r.ns, r.name); err != nil {
			return nil, err
		}
		return nil, gone(r.name, r.ns)
	}
	r.env.Logger.Info("attaching to a deployed plugin", "plugin", r.name, "namespace", r.ns)
	var err error
	switch {
	case r.outlive && shared(d):
		r.env.Logger.Info("the outliving host makes the shared plugin permanent", "plugin", r.name, "namespace", r.ns)
		d, err = makePermanent(ctx, r.c, r.ns, r.name)
	case r.share != nil:
		var claimed bool
		if d, claimed, err = r.share.join(ctx); err == nil && !claimed {
			r.dropClaim(ctx) // a permanent plugin: this host holds no claim on it
		}
	}
	if errors.Is(err, errGone) {
		return nil, gone(r.name, r.ns)
	}
	return d, err
}

// gone is the error of a Deployment deleted while a host attached to it.
func gone(name, ns string) error {
	return &tether.PluginError{Plugin: name, Kind: tether.ErrBadTarget, Err: errGone,
		Detail: "the Deployment " + name + " in namespace " + ns + " was deleted while the host attached to it"}
}

// dropClaim ends a claim the host does not need (the plugin is permanent).
func (r *runtime) dropClaim(ctx context.Context) {
	r.share.stopRenewing()
	if err := r.share.deleteLease(ctx); err != nil {
		r.env.Logger.Warn("could not delete the host's Lease", "plugin", r.name, "error", err)
	}
	r.share = nil
}

// sweep deletes the namespace's expired Leases once the host's claim is
// in place (so that the plugin it joined keeps a live owner). A nil claim
// sweeps nothing.
func (cl *claim) sweep(ctx context.Context) {
	if cl == nil {
		return
	}
	if _, err := sweepExpired(ctx, cl.c, cl.ns, time.Now()); err != nil {
		cl.log.Debug("could not delete expired Leases", "namespace", cl.ns, "error", err)
	}
}

// owners is the claim's Lease as the owners of a Deployment its host
// creates; none for a nil claim.
func (cl *claim) owners() []metav1.OwnerReference {
	if cl == nil {
		return nil
	}
	return []metav1.OwnerReference{cl.owner()}
}

// created records that the claim's host created the Deployment, listing
// its Lease as the first owner. A nil claim records nothing.
func (cl *claim) created() {
	if cl == nil {
		return
	}
	cl.mu.Lock()
	cl.claimed = true
	cl.mu.Unlock()
}

// lostRace reports whether a deploy failed because another host created
// the Deployment first.
func lostRace(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Verb == "create" && ae.Resource == "deployments.apps" && apierrors.IsAlreadyExists(ae.Err)
}
