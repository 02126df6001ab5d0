package kube

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// replicas is the Deployment's number of pods: nil means 1.
func (s *Spec) replicas() int32 {
	if s.Replicas == nil {
		return 1
	}
	return *s.Replicas
}

// scheduling sets the pod's service account, image pull secrets, node
// selector and tolerations from the spec.
func (s *Spec) scheduling(pod *corev1.PodSpec) {
	pod.ServiceAccountName = s.ServiceAccount
	for _, name := range s.ImagePullSecrets {
		pod.ImagePullSecrets = append(pod.ImagePullSecrets, corev1.LocalObjectReference{Name: name})
	}
	pod.NodeSelector = s.NodeSelector
	pod.Tolerations = s.Tolerations
}

// tolerationEffects are the taint effects a toleration may name ("" is
// every effect).
var tolerationEffects = []corev1.TaintEffect{"", corev1.TaintEffectNoSchedule,
	corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute}

// validateScheduling checks the spec's service account, image pull
// secrets, node selector, tolerations and resources as the API server
// would, so that a mistake is refused before anything is created.
func (s *Spec) validateScheduling() error {
	if s.ServiceAccount != "" {
		if errs := validation.IsDNS1123Subdomain(s.ServiceAccount); len(errs) > 0 {
			return badField(s.Name, "spec.serviceAccount", fmt.Sprintf("%q: %s", s.ServiceAccount, strings.Join(errs, "; ")), nil)
		}
	}
	for i, name := range s.ImagePullSecrets {
		if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
			return badField(s.Name, fmt.Sprintf("spec.imagePullSecrets[%d]", i),
				fmt.Sprintf("%q is not a Secret name: %s", name, strings.Join(errs, "; ")), nil)
		}
	}
	for _, k := range sortedKeys(s.NodeSelector) {
		v := s.NodeSelector[k]
		if errs := append(validation.IsQualifiedName(k), validation.IsValidLabelValue(v)...); len(errs) > 0 {
			return badField(s.Name, "spec.nodeSelector", fmt.Sprintf("%s=%s: %s", k, v, strings.Join(errs, "; ")), nil)
		}
	}
	for i, t := range s.Tolerations {
		if reason := tolerationProblem(t); reason != "" {
			return badField(s.Name, fmt.Sprintf("spec.tolerations[%d]", i), reason, nil)
		}
	}
	return s.validateResources()
}

// tolerationProblem says what is wrong with a toleration, or "".
func tolerationProblem(t corev1.Toleration) string {
	switch {
	case t.Key != "" && len(validation.IsQualifiedName(t.Key)) > 0:
		return fmt.Sprintf("key %q: %s", t.Key, strings.Join(validation.IsQualifiedName(t.Key), "; "))
	case t.Operator != "" && t.Operator != corev1.TolerationOpEqual && t.Operator != corev1.TolerationOpExists:
		return fmt.Sprintf("operator %q is neither Equal nor Exists", t.Operator)
	case t.Operator == corev1.TolerationOpExists && t.Value != "":
		return fmt.Sprintf("operator Exists takes no value (got %q)", t.Value)
	case t.Key == "" && t.Operator != corev1.TolerationOpExists:
		return "a toleration without a key must use operator Exists"
	case t.Value != "" && len(validation.IsValidLabelValue(t.Value)) > 0:
		return fmt.Sprintf("value %q: %s", t.Value, strings.Join(validation.IsValidLabelValue(t.Value), "; "))
	case !slices.Contains(tolerationEffects, t.Effect):
		return fmt.Sprintf("effect %q is not NoSchedule, PreferNoSchedule or NoExecute", t.Effect)
	case t.TolerationSeconds != nil && t.Effect != corev1.TaintEffectNoExecute:
		return "tolerationSeconds applies to effect NoExecute only"
	}
	return ""
}

// validateResources checks the container's requests and limits: known
// resource names, no negative quantity, no request above its limit.
func (s *Spec) validateResources() error {
	r := s.Resources
	for _, l := range []struct {
		field string
		list  corev1.ResourceList
	}{{"requests", r.Requests}, {"limits", r.Limits}} {
		for name, q := range l.list {
			field := fmt.Sprintf("spec.resources.%s[%s]", l.field, name)
			if !knownResource(name) {
				return badField(s.Name, field, fmt.Sprintf("%q is not a resource (cpu, memory, ephemeral-storage, "+
					"hugepages-SIZE or a DOMAIN/NAME extended resource)", name), nil)
			}
			if q.Sign() < 0 {
				return badField(s.Name, field, fmt.Sprintf("%s is negative", q.String()), nil)
			}
		}
	}
	for name, req := range r.Requests {
		if lim, ok := r.Limits[name]; ok && req.Cmp(lim) > 0 {
			return badField(s.Name, fmt.Sprintf("spec.resources.requests[%s]", name),
				fmt.Sprintf("%s is more than its limit %s", req.String(), lim.String()), nil)
		}
	}
	return nil
}

// knownResource reports whether a container may request name.
func knownResource(name corev1.ResourceName) bool {
	switch {
	case name == corev1.ResourceCPU, name == corev1.ResourceMemory, name == corev1.ResourceEphemeralStorage:
		return true
	case strings.HasPrefix(string(name), corev1.ResourceHugePagesPrefix):
		return true
	}
	return strings.Contains(string(name), "/") && len(validation.IsQualifiedName(string(name))) == 0
}
