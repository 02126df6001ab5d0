package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/tetherplug/tether/kube"
)

// kubeSchedulingFlags are deploy's flags of the pods' service account,
// image pull secrets, node selector, tolerations and resources.
type kubeSchedulingFlags struct {
	serviceAccount                    string
	pullSecrets, nodeSelector, tolers []string
	requests, limits                  []string
}

func (f *kubeSchedulingFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.serviceAccount, "service-account", "", "the pods' service account (default the namespace's default)")
	fl.StringArrayVar(&f.pullSecrets, "image-pull-secret", nil, "a Secret with the image registry's credentials (repeatable)")
	fl.StringArrayVar(&f.nodeSelector, "node-selector", nil, "KEY=VALUE[,KEY=VALUE...] node labels the pods need (repeatable)")
	fl.StringArrayVar(&f.tolers, "toleration", nil, "KEY[=VALUE][:EFFECT] taint the pods tolerate; no VALUE: any value (repeatable)")
	fl.StringArrayVar(&f.requests, "requests", nil, "NAME=QUANTITY[,...] resource requests, e.g. cpu=100m,memory=64Mi")
	fl.StringArrayVar(&f.limits, "limits", nil, "NAME=QUANTITY[,...] resource limits, e.g. memory=128Mi")
}

// apply sets the spec's fields from the flags; the spec's validation
// checks the values, this only their syntax.
func (f *kubeSchedulingFlags) apply(s *kube.Spec) error {
	s.ServiceAccount, s.ImagePullSecrets = f.serviceAccount, f.pullSecrets
	var err error
	if s.NodeSelector, err = keyValues("--node-selector", splitCommas(f.nodeSelector)); err != nil {
		return err
	}
	for _, t := range f.tolers {
		tol, err := parseToleration(t)
		if err != nil {
			return err
		}
		s.Tolerations = append(s.Tolerations, tol)
	}
	if len(f.requests) > 0 {
		if s.Resources.Requests, err = resourceList("--requests", f.requests); err != nil {
			return err
		}
	}
	if len(f.limits) > 0 {
		if s.Resources.Limits, err = resourceList("--limits", f.limits); err != nil {
			return err
		}
	}
	return nil
}

// parseToleration parses KEY[=VALUE][:EFFECT], the syntax of kubectl
// taint: with a value the toleration is Equal, without it Exists; without
// an effect it tolerates every effect.
func parseToleration(s string) (corev1.Toleration, error) {
	var t corev1.Toleration
	rest, effect, _ := strings.Cut(s, ":")
	t.Effect = corev1.TaintEffect(effect)
	key, value, hasValue := strings.Cut(rest, "=")
	if key == "" {
		return t, fmt.Errorf("--toleration %q: want KEY[=VALUE][:EFFECT], e.g. dedicated=plugins:NoSchedule", s)
	}
	t.Key, t.Value, t.Operator = key, value, corev1.TolerationOpExists
	if hasValue {
		t.Operator = corev1.TolerationOpEqual
	}
	return t, nil
}

// resourceList parses NAME=QUANTITY pairs.
func resourceList(flag string, vals []string) (corev1.ResourceList, error) {
	kvs, err := keyValues(flag, splitCommas(vals))
	if err != nil {
		return nil, err
	}
	list := corev1.ResourceList{}
	for name, v := range kvs {
		q, err := resource.ParseQuantity(v)
		if err != nil {
			return nil, fmt.Errorf("%s %s=%s: %w", flag, name, v, err)
		}
		list[corev1.ResourceName(name)] = q
	}
	return list, nil
}

// splitCommas splits each of vals at its commas.
func splitCommas(vals []string) []string {
	var out []string
	for _, v := range vals {
		out = append(out, strings.Split(v, ",")...)
	}
	return out
}

// keyValues parses repeated KEY=VALUE flags.
func keyValues(flag string, kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	m := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%s %q: want KEY=VALUE", flag, kv)
		}
		m[k] = v
	}
	return m, nil
}

// resources makes equal requests and limits from --cpu and --memory.
func resources(cpu, memory string) (corev1.ResourceRequirements, error) {
	var r corev1.ResourceRequirements
	list := corev1.ResourceList{}
	for _, q := range []struct {
		flag, val string
		name      corev1.ResourceName
	}{{"--cpu", cpu, corev1.ResourceCPU}, {"--memory", memory, corev1.ResourceMemory}} {
		if q.val == "" {
			continue
		}
		v, err := resource.ParseQuantity(q.val)
		if err != nil {
			return r, fmt.Errorf("%s %q: %w", q.flag, q.val, err)
		}
		list[q.name] = v
	}
	if len(list) > 0 {
		r.Requests, r.Limits = list, list.DeepCopy()
	}
	return r, nil
}
