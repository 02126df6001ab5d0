package kube

import (
	"context"
	"encoding/json"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/csaupgrade"
)

// liveObjects are a plugin's Deployment and Service as the API server has
// them, nil when absent.
type liveObjects struct {
	deployment *appsv1.Deployment
	service    *corev1.Service
}

// notOthers reads the plugin's Deployment and Service, and refuses to go on
// when either exists without tether's labels (deploy would take it over).
func notOthers(ctx context.Context, c kubernetes.Interface, ns, name string) (liveObjects, error) {
	var live liveObjects
	err := withRetry(ctx, func() (err error) {
		live.deployment, err = c.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		return err
	})
	if err != nil && !isNotFound(err) {
		return live, apiFailure(name, "get", "deployments.apps", name, ns, err)
	} else if err != nil {
		live.deployment = nil
	}
	err = withRetry(ctx, func() (err error) {
		live.service, err = c.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
		return err
	})
	if err != nil && !isNotFound(err) {
		return live, apiFailure(name, "get", "services", name, ns, err)
	} else if err != nil {
		live.service = nil
	}
	if live.deployment != nil && !managed(live.deployment.Labels, name) {
		return live, notTethers("Deployment", ns, name)
	}
	if live.service != nil && !managed(live.service.Labels, name) {
		return live, notTethers("Service", ns, name)
	}
	return live, nil
}

// notTethers is the error of an object of the plugin's name that tether
// did not deploy.
func notTethers(kind, ns, name string) error {
	return badField(name, "spec.name", fmt.Sprintf("%s %s/%s exists and is not tether's (no %s=%s and %s=%s labels): leaving it alone",
		kind, ns, name, LabelManagedBy, ManagedBy, LabelPlugin, name), nil)
}

// applyObjects applies d, then svc owned by it, server-side. An existing
// Deployment keeps its owner references (the Leases of the hosts that share
// it), and the fields a create of tether's set are first handed to the
// apply's field manager, so that a field the spec no longer has is removed.
func applyObjects(ctx context.Context, c kubernetes.Interface, d *appsv1.Deployment, svc *corev1.Service, live liveObjects) (*appsv1.Deployment, error) {
	verb := applyVerb(live.deployment == nil)
	if live.deployment != nil {
		d.OwnerReferences = live.deployment.OwnerReferences
		if err := takeOver(ctx, live.deployment, func(patch []byte) error {
			_, err := c.AppsV1().Deployments(d.Namespace).Patch(ctx, d.Name, types.JSONPatchType, patch, metav1.PatchOptions{})
			return err
		}); err != nil {
			return nil, apiFailure(d.Name, "patch", "deployments.apps", d.Name, d.Namespace, err)
		}
	}
	applied, err := apply(ctx, d, "apps/v1", "Deployment", c.AppsV1().Deployments(d.Namespace).Patch)
	if err != nil {
		return nil, apiFailure(d.Name, verb, "deployments.apps", d.Name, d.Namespace, err)
	}
	svc.OwnerReferences = []metav1.OwnerReference{controllerRef(applied)}
	if live.service != nil {
		if err := takeOver(ctx, live.service, func(patch []byte) error {
			_, err := c.CoreV1().Services(d.Namespace).Patch(ctx, d.Name, types.JSONPatchType, patch, metav1.PatchOptions{})
			return err
		}); err != nil {
			return nil, apiFailure(d.Name, "patch", "services", d.Name, d.Namespace, err)
		}
	}
	if _, err := apply(ctx, svc, "v1", "Service", c.CoreV1().Services(d.Namespace).Patch); err != nil {
		if live.deployment == nil {
			_ = deleteObjects(context.WithoutCancel(ctx), c, d.Namespace, d.Name)
		}
		return nil, apiFailure(d.Name, applyVerb(live.service == nil), "services", d.Name, d.Namespace, err)
	}
	return applied, nil
}

// applyVerb is the verb RBAC checks of a server-side apply: create when
// it creates the object, patch when it updates one.
func applyVerb(creates bool) string {
	if creates {
		return "create"
	}
	return "patch"
}

// patchFunc is a typed client's Patch.
type patchFunc[T any] func(ctx context.Context, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions, sub ...string) (T, error)

// apply writes obj by server-side apply as FieldManager, taking over the
// fields another manager set (kubectl apply --server-side
// --force-conflicts): the spec is what was asked for.
func apply[T any, O interface {
	metav1.Object
	kruntime.Object
}](ctx context.Context, obj O, apiVersion, kind string, patch patchFunc[T]) (T, error) {
	var out T
	obj = obj.DeepCopyObject().(O)
	m, err := kruntime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return out, err
	}
	m["apiVersion"], m["kind"] = apiVersion, kind
	delete(m, "status")
	data, err := json.Marshal(m)
	if err != nil {
		return out, err
	}
	force := true
	opts := metav1.PatchOptions{FieldManager: FieldManager, Force: &force}
	err = withRetry(ctx, func() (err error) {
		out, err = patch(ctx, obj.GetName(), types.ApplyPatchType, data, opts)
		return err
	})
	return out, err
}

// takeOver hands the fields tether's create (or any update by its field
// manager) set to its apply, sending the patch csaupgrade makes, if any.
func takeOver(ctx context.Context, obj kruntime.Object, send func([]byte) error) error {
	patch, err := csaupgrade.UpgradeManagedFieldsPatch(obj, sets.New(FieldManager), FieldManager)
	if err != nil || patch == nil {
		return err
	}
	return withRetry(ctx, func() error { return send(patch) })
}
