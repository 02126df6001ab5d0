package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ErrConfig is wrapped by errors resolving a container's env or volumes (a missing Secret,
// key or field); the container then waits with reason CreateContainerConfigError.
var ErrConfig = errors.New("nodeagent: container config")

// imagePath finds the binary for image: as written, without digest, without tag.
func (a *agent) imagePath(image string) (string, bool) {
	cands := []string{image}
	if i := strings.Index(image, "@"); i >= 0 {
		image = image[:i]
		cands = append(cands, image)
	}
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		cands = append(cands, image[:i])
	}
	for _, c := range cands {
		if p, ok := a.opts.Images[c]; ok {
			return p, true
		}
	}
	if a.opts.Resolve != nil {
		for _, c := range cands {
			if p, ok := a.opts.Resolve(c); ok {
				return p, true
			}
		}
	}
	return "", false
}

// fieldValue resolves a downward-API field path for pod (with its assigned IP).
func fieldValue(pod *corev1.Pod, ip, fieldPath string) (string, error) {
	switch fieldPath {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.podIP", "status.podIPs":
		return ip, nil
	case "status.hostIP", "status.hostIPs":
		return "127.0.0.1", nil
	}
	for _, pre := range []string{"metadata.labels['", "metadata.annotations['"} {
		if k, ok := strings.CutPrefix(fieldPath, pre); ok && strings.HasSuffix(k, "']") {
			k = strings.TrimSuffix(k, "']")
			if strings.HasPrefix(pre, "metadata.labels") {
				return pod.Labels[k], nil
			}
			return pod.Annotations[k], nil
		}
	}
	return "", fmt.Errorf("%w: unsupported fieldRef %q", ErrConfig, fieldPath)
}

// secretData reads a Secret's data.
func (a *agent) secretData(ctx context.Context, ns, name string) (map[string][]byte, error) {
	s, err := a.client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("%w: secret %s/%s: %w", ErrConfig, ns, name, err)
	}
	data := map[string][]byte{}
	for k, v := range s.StringData {
		data[k] = []byte(v)
	}
	for k, v := range s.Data {
		data[k] = v
	}
	return data, nil
}

// configMapData reads a ConfigMap's data and binary data.
func (a *agent) configMapData(ctx context.Context, ns, name string) (map[string][]byte, error) {
	c, err := a.client.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("%w: configmap %s/%s: %w", ErrConfig, ns, name, err)
	}
	data := map[string][]byte{}
	for k, v := range c.BinaryData {
		data[k] = v
	}
	for k, v := range c.Data {
		data[k] = []byte(v)
	}
	return data, nil
}

// keyOf reads one key of a Secret or ConfigMap; optional sources yield ok=false, not an error.
func keyOf(data map[string][]byte, err error, kind, name, key string, optional *bool) (string, bool, error) {
	opt := optional != nil && *optional
	if err != nil {
		if opt && isNotFoundDeep(err) {
			return "", false, nil
		}
		return "", false, err
	}
	v, ok := data[key]
	if !ok {
		if opt {
			return "", false, nil
		}
		return "", false, fmt.Errorf("%w: %s %s has no key %q", ErrConfig, kind, name, key)
	}
	return string(v), true, nil
}

func isNotFoundDeep(err error) bool {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if isNotFound(e) {
			return true
		}
	}
	return false
}

// envVars builds a container's environment: the agent's base variables, envFrom, then env, with
// $(VAR) expansion and mountPath rewriting. It returns the environment as an ordered list.
func (w *podWorker) envVars(ctx context.Context, c *corev1.Container) ([]string, map[string]string, error) {
	a, pod := w.a, w.podSnapshot()
	vals := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := vals[k]; !ok {
			order = append(order, k)
		}
		vals[k] = v
	}
	set("PATH", os.Getenv("PATH"))
	set("HOME", w.dir)
	set("HOSTNAME", pod.Name)
	set("NODEAGENT_POD_ROOT", w.root())
	if a.apiHost != "" {
		set("KUBERNETES_SERVICE_HOST", a.apiHost)
		set("KUBERNETES_SERVICE_PORT", a.apiPort)
	}
	for _, from := range c.EnvFrom {
		var data map[string][]byte
		var err error
		var optional *bool
		switch {
		case from.SecretRef != nil:
			data, err = a.secretData(ctx, pod.Namespace, from.SecretRef.Name)
			optional = from.SecretRef.Optional
		case from.ConfigMapRef != nil:
			data, err = a.configMapData(ctx, pod.Namespace, from.ConfigMapRef.Name)
			optional = from.ConfigMapRef.Optional
		}
		if err != nil {
			if optional != nil && *optional && isNotFoundDeep(err) {
				continue
			}
			return nil, nil, err
		}
		for k, v := range data {
			set(from.Prefix+k, string(v))
		}
	}
	for _, e := range c.Env {
		v, ok, err := w.envValue(ctx, pod, e, vals)
		if err != nil {
			return nil, nil, fmt.Errorf("env %s: %w", e.Name, err)
		}
		if ok {
			set(e.Name, w.mapPath(c, v))
		}
	}
	env := make([]string, 0, len(order))
	for _, k := range order {
		env = append(env, k+"="+vals[k])
	}
	return env, vals, nil
}

// envValue resolves one env entry; ok is false for an optional source that is absent.
func (w *podWorker) envValue(ctx context.Context, pod *corev1.Pod, e corev1.EnvVar, vals map[string]string) (string, bool, error) {
	a := w.a
	src := e.ValueFrom
	switch {
	case src == nil:
		return expand(e.Value, vals), true, nil
	case src.FieldRef != nil:
		v, err := fieldValue(pod, w.ip.String(), src.FieldRef.FieldPath)
		return v, err == nil, err
	case src.SecretKeyRef != nil:
		r := src.SecretKeyRef
		data, err := a.secretData(ctx, pod.Namespace, r.Name)
		return keyOf(data, err, "secret", r.Name, r.Key, r.Optional)
	case src.ConfigMapKeyRef != nil:
		r := src.ConfigMapKeyRef
		data, err := a.configMapData(ctx, pod.Namespace, r.Name)
		return keyOf(data, err, "configmap", r.Name, r.Key, r.Optional)
	}
	return "", false, fmt.Errorf("%w: unsupported valueFrom", ErrConfig)
}

// expand replaces $(NAME) with vals[NAME] as Kubernetes does: $$ is a literal $, and a
// reference to an undefined name is left as written.
func expand(s string, vals map[string]string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
			continue
		case '(':
			if end := strings.IndexByte(s[i+2:], ')'); end >= 0 {
				name := s[i+2 : i+2+end]
				if v, ok := vals[name]; ok {
					b.WriteString(v)
				} else {
					b.WriteString(s[i : i+3+end])
				}
				i += 2 + end
				continue
			}
		}
		b.WriteByte('$')
	}
	return b.String()
}

// argv builds the process arguments (after the binary) from command and args.
func (w *podWorker) argv(c *corev1.Container, vals map[string]string) []string {
	var args []string
	if len(c.Command) > 0 {
		args = append(args, c.Command[1:]...)
	}
	args = append(args, c.Args...)
	for i, s := range args {
		args[i] = w.mapPath(c, expand(s, vals))
	}
	return args
}

// mapPath rewrites s when it is one of c's mount paths or below one, to the path under the pod
// root; for a flag (-name=value or --name=value) the value is rewritten.
func (w *podWorker) mapPath(c *corev1.Container, s string) string {
	if strings.HasPrefix(s, "-") {
		if name, val, ok := strings.Cut(s, "="); ok {
			return name + "=" + w.mapPath(c, val)
		}
	}
	for _, m := range c.VolumeMounts {
		mp := path.Clean(m.MountPath)
		if s == mp || strings.HasPrefix(s, mp+"/") {
			return filepath.Join(w.root(), filepath.FromSlash(s))
		}
	}
	return s
}
