package nodeagent

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// fileSet is a volume's content: relative path → bytes.
type fileSet map[string][]byte

// prepareVolumes writes every volume of the pod under volumes/ and links each container's
// mounts under root/. It can be called again after a failure.
func (w *podWorker) prepareVolumes(ctx context.Context) error {
	pod := w.podSnapshot()
	for _, v := range pod.Spec.Volumes {
		files, err := w.volumeFiles(ctx, pod, v)
		if err != nil {
			return fmt.Errorf("volume %s: %w", v.Name, err)
		}
		dir := filepath.Join(w.dir, "volumes", v.Name)
		if err := writeFiles(dir, files); err != nil {
			return fmt.Errorf("volume %s: %w", v.Name, err)
		}
	}
	for _, c := range pod.Spec.Containers {
		for _, m := range c.VolumeMounts {
			if err := w.mount(m); err != nil {
				return fmt.Errorf("container %s mount %s: %w", c.Name, m.MountPath, err)
			}
		}
	}
	return nil
}

// mount links root/mountPath to the volume directory (or its subPath).
func (w *podWorker) mount(m corev1.VolumeMount) error {
	target := filepath.Join(w.dir, "volumes", m.Name)
	if m.SubPath != "" {
		target = filepath.Join(target, filepath.FromSlash(path.Clean("/"+m.SubPath)))
	}
	link := filepath.Join(w.root(), filepath.FromSlash(path.Clean("/"+m.MountPath)))
	if err := os.MkdirAll(filepath.Dir(link), 0o700); err != nil {
		return err
	}
	if cur, err := os.Readlink(link); err == nil && cur == target {
		return nil
	}
	os.Remove(link)
	return os.Symlink(target, link)
}

// writeFiles replaces dir's content with files (0600 files, 0700 directories).
func writeFiles(dir string, files fileSet) error {
	tmp := dir + ".tmp"
	os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return err
	}
	for rel, data := range files {
		p := filepath.Join(tmp, filepath.FromSlash(path.Clean("/"+rel)))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(p, data, 0o600); err != nil {
			return err
		}
	}
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() && len(files) == 0 {
		os.RemoveAll(tmp) // an emptyDir keeps what the containers wrote
		return nil
	}
	os.RemoveAll(dir)
	return os.Rename(tmp, dir)
}

// volumeFiles computes the files of one volume.
func (w *podWorker) volumeFiles(ctx context.Context, pod *corev1.Pod, v corev1.Volume) (fileSet, error) {
	files := fileSet{}
	switch {
	case v.Secret != nil:
		data, err := w.a.secretData(ctx, pod.Namespace, v.Secret.SecretName)
		return files, addKeys(files, data, err, v.Secret.Items, v.Secret.Optional)
	case v.ConfigMap != nil:
		data, err := w.a.configMapData(ctx, pod.Namespace, v.ConfigMap.Name)
		return files, addKeys(files, data, err, v.ConfigMap.Items, v.ConfigMap.Optional)
	case v.DownwardAPI != nil:
		return files, w.addDownward(files, pod, v.DownwardAPI.Items)
	case v.Projected != nil:
		for _, src := range v.Projected.Sources {
			if err := w.addProjection(ctx, files, pod, src); err != nil {
				return nil, err
			}
		}
	}
	return files, nil // emptyDir and unsupported types: an empty directory
}

// addProjection adds one source of a projected volume.
func (w *podWorker) addProjection(ctx context.Context, files fileSet, pod *corev1.Pod, src corev1.VolumeProjection) error {
	switch {
	case src.Secret != nil:
		data, err := w.a.secretData(ctx, pod.Namespace, src.Secret.Name)
		return addKeys(files, data, err, src.Secret.Items, src.Secret.Optional)
	case src.ConfigMap != nil:
		data, err := w.a.configMapData(ctx, pod.Namespace, src.ConfigMap.Name)
		return addKeys(files, data, err, src.ConfigMap.Items, src.ConfigMap.Optional)
	case src.DownwardAPI != nil:
		return w.addDownward(files, pod, src.DownwardAPI.Items)
	case src.ServiceAccountToken != nil:
		t := src.ServiceAccountToken
		req := &authv1.TokenRequest{Spec: authv1.TokenRequestSpec{
			ExpirationSeconds: t.ExpirationSeconds,
			BoundObjectRef:    &authv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
		}}
		if t.Audience != "" {
			req.Spec.Audiences = []string{t.Audience}
		}
		sa := pod.Spec.ServiceAccountName
		if sa == "" {
			sa = "default"
		}
		tok, err := w.a.client.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, sa, req, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("%w: token for service account %s/%s: %w", ErrConfig, pod.Namespace, sa, err)
		}
		files[t.Path] = []byte(tok.Status.Token)
	}
	return nil
}

// addKeys adds a Secret's or ConfigMap's keys (all, or the listed items).
func addKeys(files fileSet, data map[string][]byte, err error, items []corev1.KeyToPath, optional *bool) error {
	if err != nil {
		if optional != nil && *optional && isNotFoundDeep(err) {
			return nil
		}
		return err
	}
	if len(items) == 0 {
		for k, v := range data {
			files[k] = v
		}
		return nil
	}
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			if optional != nil && *optional {
				continue
			}
			return fmt.Errorf("%w: no key %q", ErrConfig, it.Key)
		}
		files[it.Path] = v
	}
	return nil
}

// addDownward adds downwardAPI items (fieldRef only; resourceFieldRef is not supported).
func (w *podWorker) addDownward(files fileSet, pod *corev1.Pod, items []corev1.DownwardAPIVolumeFile) error {
	for _, it := range items {
		if it.FieldRef == nil {
			return fmt.Errorf("%w: downwardAPI %s: only fieldRef is supported", ErrConfig, it.Path)
		}
		var v string
		switch it.FieldRef.FieldPath {
		case "metadata.labels":
			v = formatMap(pod.Labels)
		case "metadata.annotations":
			v = formatMap(pod.Annotations)
		default:
			var err error
			if v, err = fieldValue(pod, w.ip.String(), it.FieldRef.FieldPath); err != nil {
				return err
			}
		}
		files[it.Path] = []byte(v)
	}
	return nil
}

// formatMap writes labels or annotations as the kubelet does: key="value" lines.
func formatMap(m map[string]string) string {
	var b strings.Builder
	for k, v := range m {
		fmt.Fprintf(&b, "%s=%q\n", k, v)
	}
	return b.String()
}
