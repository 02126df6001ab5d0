package kube

import (
	"context"
	"encoding/json"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// applyOptions are those of every server-side apply of tether's: its field
// manager, taking over fields another manager set (kubectl apply
// --server-side --force-conflicts), since the spec is what was asked for.
func applyOptions() metav1.PatchOptions {
	force := true
	return metav1.PatchOptions{FieldManager: FieldManager, Force: &force}
}

// applyVerb is the verb RBAC checks of a server-side apply: create when
// it creates the object, patch when it updates one.
func applyVerb(creates bool) string {
	if creates {
		return "create"
	}
	return "patch"
}

// applyDeployment applies d (server-side) and returns it as the API server
// then has it.
func applyDeployment(ctx context.Context, c kubernetes.Interface, d *appsv1.Deployment) (*appsv1.Deployment, error) {
	d = d.DeepCopy()
	d.TypeMeta = metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}
	d.Status = appsv1.DeploymentStatus{}
	data, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	var out *appsv1.Deployment
	err = withRetry(ctx, func() (err error) {
		out, err = c.AppsV1().Deployments(d.Namespace).Patch(ctx, d.Name, types.ApplyPatchType, data, applyOptions())
		return err
	})
	return out, err
}

// applyService applies svc (server-side).
func applyService(ctx context.Context, c kubernetes.Interface, svc *corev1.Service) error {
	svc = svc.DeepCopy()
	svc.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Service"}
	svc.Status = corev1.ServiceStatus{}
	data, err := json.Marshal(svc)
	if err != nil {
		return err
	}
	return withRetry(ctx, func() error {
		_, err := c.CoreV1().Services(svc.Namespace).Patch(ctx, svc.Name, types.ApplyPatchType, data, applyOptions())
		return err
	})
}
