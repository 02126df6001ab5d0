package kube

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// Manifest is what Deploy would create for spec in namespace ns, without
// creating anything or asking the API server: the Deployment and the
// Service, with their apiVersion and kind set (as `kubectl create
// --dry-run=client -o yaml` prints them). The spec is validated as Deploy
// validates it, except that the TLS Secret is not read. The Service's
// owner reference to its Deployment is set by Deploy once the Deployment
// exists, so it is not in the manifest.
func Manifest(ns string, spec Spec, o DeployOptions) (*appsv1.Deployment, *corev1.Service, error) {
	if err := validateName(spec.Name, "namespace", ns); err != nil {
		return nil, nil, err
	}
	if err := spec.validate(context.Background(), nil, ns, o.PinnedImages, o.Insecure); err != nil {
		return nil, nil, err
	}
	d, svc := spec.objects(ns, o.Insecure)
	d.APIVersion, d.Kind = appsv1.SchemeGroupVersion.String(), "Deployment"
	svc.APIVersion, svc.Kind = corev1.SchemeGroupVersion.String(), "Service"
	return d, svc, nil
}
