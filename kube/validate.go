package kube

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"

	"github.com/tetherplug/tether"
)

// pinnedImage is an image reference pinned by a sha256 digest.
var pinnedImage = regexp.MustCompile(`@sha256:[0-9a-f]{64}$`)

// validateName checks a namespace or object name: a DNS-1035 label (a
// Service's name must be one, and a Deployment's is then valid too).
func validateName(plugin, field, name string) error {
	if name == "" {
		return badField(plugin, field, "it is empty", nil)
	}
	if errs := validation.IsDNS1035Label(name); len(errs) > 0 {
		return badField(plugin, field, fmt.Sprintf("%q is not a valid name: %s", name, strings.Join(errs, "; ")), nil)
	}
	return nil
}

// validate checks a spec before anything is created: every rule that the
// API server would refuse, and tether's own (a port, a pinned image, a TLS
// Secret that exists with the keys the plugin reads).
func (s *Spec) validate(ctx context.Context, c kubernetes.Interface, ns string, pinned, insecure bool) error {
	if err := validateName(s.Name, "spec.name", s.Name); err != nil {
		return err
	}
	if s.Deployment != nil || s.Service != nil {
		if err := s.validateObjects(); err != nil {
			return err
		}
	} else if err := s.validateFields(); err != nil {
		return err
	}
	if pinned {
		for _, img := range s.images() {
			if !pinnedImage.MatchString(img) {
				return badField(s.Name, "spec.image", fmt.Sprintf(
					"%q is not pinned by digest (NAME@sha256:DIGEST), which kube.WithPinnedImages requires", img), nil)
			}
		}
	}
	switch {
	case s.TLSSecret == "" && !insecure && s.Deployment == nil:
		return badField(s.Name, "spec.tlsSecret", "a plugin needs a TLS Secret for mutual TLS, "+
			"unless the host gives kube.WithInsecure()", nil)
	case s.TLSSecret != "" && c != nil: // nil: a dry run, which reads nothing
		return s.checkSecret(ctx, c, ns)
	}
	return nil
}

// validateFields checks a spec made of fields.
func (s *Spec) validateFields() error {
	if s.Port < 1 || s.Port > 65535 {
		return badField(s.Name, "spec.port", "a plugin needs the port it serves on (1 to 65535)", nil)
	}
	if s.Image == "" {
		return badField(s.Name, "spec.image", "it is empty", nil)
	}
	if s.Replicas != nil && *s.Replicas < 0 {
		return badField(s.Name, "spec.replicas", "it is negative", nil)
	}
	for k := range s.Env {
		if errs := validation.IsEnvVarName(k); len(errs) > 0 {
			return badField(s.Name, "spec.env", fmt.Sprintf("%q: %s", k, strings.Join(errs, "; ")), nil)
		}
		if (strings.HasPrefix(k, "TETHER_") && k != tether.EnvTracing) || k == "POD_IP" {
			return badField(s.Name, "spec.env", fmt.Sprintf("%q is set by the kube runtime", k), nil)
		}
	}
	for k, v := range s.Labels {
		errs := append(validation.IsQualifiedName(k), validation.IsValidLabelValue(v)...)
		if len(errs) > 0 {
			return badField(s.Name, "spec.labels", fmt.Sprintf("%s=%s: %s", k, v, strings.Join(errs, "; ")), nil)
		}
		if k == LabelManagedBy || k == LabelPlugin {
			return badField(s.Name, "spec.labels", k+" is set by the kube runtime", nil)
		}
	}
	return s.validateScheduling()
}

// validateObjects checks user-provided objects: both given, selectors that
// match the pod template, and a port.
func (s *Spec) validateObjects() error {
	d, svc := s.Deployment, s.Service
	switch {
	case d == nil:
		return badField(s.Name, "spec.deployment", "a Service is given without its Deployment", nil)
	case svc == nil:
		return badField(s.Name, "spec.service", "a Deployment is given without its Service", nil)
	case len(d.Spec.Template.Spec.Containers) == 0:
		return badField(s.Name, "deployment.spec.template.spec.containers", "there is no container", nil)
	}
	tmpl := labels.Set(d.Spec.Template.Labels)
	if d.Spec.Selector == nil {
		return badField(s.Name, "deployment.spec.selector", "it is missing", nil)
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return badField(s.Name, "deployment.spec.selector", "it does not parse", err)
	}
	if sel.Empty() || !sel.Matches(tmpl) {
		return badField(s.Name, "deployment.spec.selector", fmt.Sprintf(
			"%s does not match the pod template's labels {%s}", sel, tmpl), nil)
	}
	if len(svc.Spec.Selector) == 0 || !labels.SelectorFromSet(svc.Spec.Selector).Matches(tmpl) {
		return badField(s.Name, "service.spec.selector", fmt.Sprintf(
			"{%s} does not match the pod template's labels {%s}", labels.Set(svc.Spec.Selector), tmpl), nil)
	}
	if len(svc.Spec.Ports) == 0 {
		return badField(s.Name, "service.spec.ports", "the Service has no port", nil)
	}
	// An unset targetPort is the Service's port; a named one says nothing here.
	if p := svc.Spec.Ports[0]; p.TargetPort.IntValue() == 0 && p.TargetPort.StrVal != "" && s.Port == 0 {
		return badField(s.Name, "service.spec.ports[0].targetPort",
			"give the plugin's port as a number here or in spec.port", nil)
	}
	return nil
}

// images are the container images a spec runs.
func (s *Spec) images() []string {
	if s.Deployment == nil {
		return []string{s.Image}
	}
	var out []string
	for _, c := range append(s.Deployment.Spec.Template.Spec.InitContainers, s.Deployment.Spec.Template.Spec.Containers...) {
		out = append(out, c.Image)
	}
	return out
}

// checkSecret gets the TLS Secret and checks it holds the three keys, if
// the account may read it. The Role tether ships grants no Secret read (a
// read returns the plugin's private key): then nothing is checked here,
// and a missing Secret or key shows as pods that are not ready, which the
// readiness error explains.
func (s *Spec) checkSecret(ctx context.Context, c kubernetes.Interface, ns string) error {
	var sec *corev1.Secret
	err := withRetry(ctx, func() (err error) {
		sec, err = c.CoreV1().Secrets(ns).Get(ctx, s.TLSSecret, metav1.GetOptions{})
		return err
	})
	if apierrors.IsForbidden(err) {
		return nil
	}
	if isNotFound(err) {
		return badField(s.Name, "spec.tlsSecret", fmt.Sprintf("Secret %q does not exist in namespace %s", s.TLSSecret, ns), nil)
	}
	if err != nil {
		return apiFailure(s.Name, "get", "secrets", s.TLSSecret, ns, err)
	}
	for _, k := range []string{SecretCert, SecretKey, SecretCA} {
		if len(sec.Data[k]) == 0 {
			return badField(s.Name, "spec.tlsSecret", fmt.Sprintf("Secret %q has no %s (it needs %s, %s and %s)",
				s.TLSSecret, k, SecretCert, SecretKey, SecretCA), nil)
		}
	}
	return nil
}
