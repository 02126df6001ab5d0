package kubecluster

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tetherplug/tether/kube"
	"github.com/tetherplug/tether/test/kubeenv"
)

// quickStart is the shell block between docs/kubernetes.md's quick start
// markers, without its fence.
func quickStart(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(rootDir, "docs", "kubernetes.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "<!-- quickstart:begin -->")
	block, _, ok2 := strings.Cut(rest, "<!-- quickstart:end -->")
	if !ok || !ok2 {
		t.Fatal("docs/kubernetes.md has no quickstart:begin and quickstart:end markers")
	}
	block = strings.TrimSpace(block)
	block, ok = strings.CutPrefix(block, "```sh\n")
	block, ok2 = strings.CutSuffix(block, "```")
	if !ok || !ok2 {
		t.Fatalf("the quick start is not one ```sh block:\n%s", block)
	}
	return block
}

// kubeImages are the images of the Makefile's KUBE_IMAGES, which make
// kube-up's node agent runs: image name to the example plugin's program
// name under bin/plugins.
func kubeImages(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(rootDir, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^KUBE_IMAGES :=((?:.*\\\n)*.*)$`).FindStringSubmatch(string(b))
	if m == nil {
		t.Fatal("the Makefile sets no KUBE_IMAGES")
	}
	images := map[string]string{}
	for _, f := range strings.Fields(strings.ReplaceAll(m[1], "\\\n", " ")) {
		name, path, ok := strings.Cut(f, "=")
		if !ok {
			t.Fatalf("KUBE_IMAGES entry %q is not NAME=PATH", f)
		}
		images[name] = filepath.Base(path)
	}
	return images
}

// TestQuickStart is issue 16's acceptance line: the quick start of
// docs/kubernetes.md, run verbatim in a shell against the test control
// plane whose node agent runs the images make kube-up gives it, ends with
// a successful tether call, and its tether kube rm leaves nothing.
func TestQuickStart(t *testing.T) {
	t.Parallel()
	script := quickStart(t)
	env := kubeenv.Start(t)
	used := 0
	for image, prog := range kubeImages(t) {
		if strings.Contains(script, image) {
			env.RegisterImage(image, build(t, "github.com/tetherplug/tether/examples/greeter/plugins/"+prog))
			used++
		}
	}
	if used == 0 {
		t.Fatal("the quick start deploys none of the Makefile's KUBE_IMAGES")
	}
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(build(t, "github.com/tetherplug/tether/cmd/tether"), filepath.Join(dir, "bin", "tether")); err != nil {
		t.Fatal(err)
	}
	// The kubectl make kube-up links into bin, built with the control plane.
	bins, err := kubeenv.EnsureBinaries(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(bins.Kubectl, filepath.Join(dir, "bin", "kubectl")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = env.Client().CoreV1().Namespaces().Delete(ctx, "plugins", metav1.DeleteOptions{})
	})
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-e", "-u", "-o", "pipefail", "-x", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "KUBECONFIG="+env.Kubeconfig())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the quick start failed: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "Hello, Ada!") {
		t.Errorf("the quick start's tether call did not print the greeting:\n%s", out)
	}
	ds, err := env.Client().AppsV1().Deployments("plugins").List(t.Context(), metav1.ListOptions{LabelSelector: kube.ManagedSelector("")})
	if err != nil || len(ds.Items) != 0 {
		t.Errorf("after the quick start's kube rm: %v, %d Deployments left", err, len(ds.Items))
	}
	t.Logf("quick start:\n%s", out)
}
