package kubecluster

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tetherplug/tether/internal/doctest"
	"github.com/tetherplug/tether/test/kubeenv"
)

// docsCLI is the doc whose cluster examples TestDocsCLI runs.
var docsCLI = filepath.Join(rootDir, "docs", "cli.md")

// docImages are the images the doc's cluster examples deploy, and the
// example plugins they run.
var docImages = map[string]string{"tether.test/greeter-en:v1": greeterPkg} // as make kube-up names it

// TestDocsCLI runs the examples of docs/cli.md marked
// <!-- runs on the test cluster --> (cmd/tether's TestDocsCLI runs the
// others; the rules are internal/doctest's), each as a subtest named after
// its first command, against the test control plane: in bash, with tether
// (built from ./cmd/tether) on PATH, a kubeconfig with a context named
// prod, the doc's images registered with the node agent, the TLS files
// host.crt, host.key and ca.crt in the working directory and the Secret
// greeter-tls in a namespace of the example's own, standing for the doc's
// plugins. What each command prints must be what the doc shows, after the
// cluster's normalisation (normaliseCluster).
func TestDocsCLI(t *testing.T) {
	t.Parallel()
	blocks, err := doctest.ParseFile(docsCLI)
	if err != nil {
		t.Fatal(err)
	}
	env, tether := docCluster(t)
	n := 0
	for _, b := range blocks {
		if !b.Cluster || b.NotRun != "" {
			continue
		}
		n++
		if image := unknownImage(b); image != "" {
			t.Errorf("docs/cli.md:%d: deploys image %s, which the harness does not register: add it to docImages", b.Line, image)
			continue
		}
		if b.After {
			t.Errorf("docs/cli.md:%d: runs on the test cluster after the example above: the cluster harness runs each example on its own; give it the commands it needs", b.Line)
			continue
		}
		t.Run(b.Name(), func(t *testing.T) {
			for _, d := range newDocSession(t, env, tether).runBlock(b) {
				t.Error(d)
			}
		})
	}
	if n == 0 {
		t.Fatalf("found no example marked to run on the test cluster in %s", docsCLI)
	}
	t.Logf("%d examples run on the test cluster", n)
}

// docCluster is the control plane with the doc's images registered, and
// the tether program.
func docCluster(t *testing.T) (*kubeenv.Env, string) {
	t.Helper()
	env := kubeenv.Start(t)
	for image, pkg := range docImages {
		env.RegisterImage(image, build(t, pkg))
	}
	return env, build(t, "github.com/tetherplug/tether/cmd/tether")
}

// imageFlag is an --image flag of a command, and the image it names.
var imageFlag = regexp.MustCompile(`--image[=\s]+(\S+)`)

// unknownImage is an image b's commands deploy that is not one of
// docImages, or "".
func unknownImage(b *doctest.Block) string {
	for _, c := range b.Cmds {
		for _, m := range imageFlag.FindAllStringSubmatch(c.Script, -1) {
			if _, ok := docImages[m[1]]; !ok {
				return m[1]
			}
		}
	}
	return ""
}

// The cluster harness fails an example whose output is not the doc's, or
// that leaves a process behind, and passes it when only the namespace, pod
// names, IPs and column widths differ.
func TestDocsCLIHarness(t *testing.T) {
	t.Parallel()
	env, tether := docCluster(t)
	doc := "Text:\n\n" +
		"    $ tether kube ls -n plugins\n" +
		"    NAME  READY  IMAGE  INTERFACES\n" +
		"    greeter  3/3  greeter:v1  greeter v1\n" +
		"    $ tether kube ls --context prod\n" +
		"    NAME  READY  IMAGE  INTERFACES\n" +
		"    $ echo '  greeter-6d9c7b5f8d-x1c4m  198.51.100.3    x'; grep -c 'name: prod' \"$KUBECONFIG\"\n" +
		"      greeter-557ff9f44-9x74k 10.1.2.7 x\n" +
		"    1\n" +
		"    $ sleep 60 >/dev/null 2>&1 & echo started\n" +
		"    started\n" +
		"    $ ls ca.crt host.crt host.key\n" +
		"    ca.crt\n    host.crt\n    host.key\n"
	blocks, err := doctest.Parse("doc.md", doc)
	if err != nil || len(blocks) != 1 {
		t.Fatalf("blocks: %+v, %v", blocks, err)
	}
	s := newDocSession(t, env, tether)
	if _, err := env.Client().CoreV1().Secrets(s.ns).Get(t.Context(), "greeter-tls", metav1.GetOptions{}); err != nil {
		t.Errorf("the Secret greeter-tls: %v", err)
	}
	diffs := s.runBlock(blocks[0])
	if len(diffs) != 2 || !strings.Contains(diffs[0], "docs/cli.md:3: $ tether kube ls -n plugins") ||
		!strings.Contains(diffs[0], "\n- greeter 3/3 greeter:v1 greeter v1\n") ||
		!strings.HasPrefix(diffs[1], "docs/cli.md:11: $ sleep 60 >/dev/null 2>&1 & echo started\nleft processes behind") {
		t.Errorf("want two reports, the kube ls of an empty namespace and the sleep left behind; got %d:\n%s", len(diffs), strings.Join(diffs, "\n"))
	}
	if got := s.substitute("tether kube ls -n plugins; tether inspect kube://plugins/greeter --namespace=plugins ./plugins -nplugins"); got !=
		"tether kube ls -n "+s.ns+"; tether inspect kube://"+s.ns+"/greeter --namespace="+s.ns+" ./plugins -nplugins" {
		t.Errorf("substitute: %s", got)
	}
}

// What varies on a cluster is normalised on both sides, and nothing else.
func TestDocsCLINormaliseCluster(t *testing.T) {
	for in, want := range map[string]string{
		"  greeter-557ff9f44-9x74k  10.1.0.12  yes           SERVING  greeter v1":  "  greeter-HASH-POD IP yes SERVING greeter v1",
		"addresses:         tcp 198.51.100.3:7000, tcp 10.1.0.13:7000, mutual TLS": "addresses: tcp IP:7000, tcp IP:7000, mutual TLS",
		"[pod/greeter-6d9c7b5f8d-x1c4m] listening":                                 "[pod/greeter-HASH-POD] listening",
		"greeter: 3 replicas ready; target kube://plugins/greeter":                 "greeter: 3 replicas ready; target kube://plugins/greeter",
		"greeter-tls greeter:v1 v1.2.3":                                            "greeter-tls greeter:v1 v1.2.3",
	} {
		if got := normaliseCluster([]string{in})[0]; got != want {
			t.Errorf("normaliseCluster(%q) = %q, want %q", in, got, want)
		}
	}
}

// An example that deploys an image the harness does not register is
// named, rather than left to wait for pods that never start.
func TestDocsCLIUnknownImage(t *testing.T) {
	for script, want := range map[string]string{
		"tether kube deploy g --image tether.test/greeter-en:v1 && tether kube deploy h --image=greeter:v9": "greeter:v9",
		"tether kube deploy g -n plugins --image tether.test/greeter-en:v1 --port 7000":                     "",
	} {
		if got := unknownImage(&doctest.Block{Cmds: []doctest.Cmd{{Script: script}}}); got != want {
			t.Errorf("unknownImage(%q) = %q, want %q", script, got, want)
		}
	}
}
