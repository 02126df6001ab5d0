package kube

import (
	"os"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"sigs.k8s.io/yaml"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/otlptest"
)

// deployedEnv opens kube://plugins/greeter with spec and opts on a fake
// cluster (its replicas never get ready, so Open fails and removes what
// it made) and returns the environment of the Deployment it created.
func deployedEnv(t *testing.T, spec Spec, opts ...tether.Option) map[string]string {
	t.Helper()
	c := fake.NewClientset()
	spec.TLSSecret = ""
	_, _ = tetherOpen("kube://plugins/greeter", append([]tether.Option{WithClient(c), WithDeploy(spec), WithInsecure(),
		WithReadyTimeout(200 * time.Millisecond)}, opts...)...)
	for _, a := range c.Actions() {
		if ca, ok := a.(k8stesting.CreateAction); ok {
			if d, ok := ca.GetObject().(*appsv1.Deployment); ok {
				env := map[string]string{}
				for _, e := range d.Spec.Template.Spec.Containers[0].Env {
					env[e.Name] = e.Value
				}
				return env
			}
		}
	}
	t.Fatal("no Deployment created")
	return nil
}

// A host that traces deploys its plugin with TETHER_TRACING=1, as it
// launches a local one, so that the pods pass the trace context on to
// their callbacks even with no exporter; the spec's own value wins, and a
// host that does not trace adds nothing. The spec given is not changed.
func TestTracingHostDeploysWithTracingEnv(t *testing.T) {
	host := otlptest.NewHost(t, "host")
	spec := goodSpec()
	if env := deployedEnv(t, spec, tether.WithTracing(host.Provider, nil)); env[tether.EnvTracing] != "1" || env["GREETING"] != "hello" {
		t.Errorf("deployed by a host that traces, the pods' env is %v, want %s=1 and the spec's", env, tether.EnvTracing)
	}
	if _, set := spec.Env[tether.EnvTracing]; set {
		t.Errorf("the caller's spec was changed: %v", spec.Env)
	}
	if env := deployedEnv(t, spec); env[tether.EnvTracing] != "" {
		t.Errorf("deployed by a host that does not trace, the pods' env has %s=%q", tether.EnvTracing, env[tether.EnvTracing])
	}
	spec.Env = map[string]string{tether.EnvTracing: "0"}
	if env := deployedEnv(t, spec, tether.WithTracing(host.Provider, nil)); env[tether.EnvTracing] != "0" {
		t.Errorf("the spec's %s=0 became %q", tether.EnvTracing, env[tether.EnvTracing])
	}
}

// docsTracingSpec is the spec docs/observability.md shows for a traced
// Kubernetes plugin (test/kubecluster's TestTracingKubePluginOneTrace
// deploys the same variables).
func docsTracingSpec() Spec {
	return Spec{Name: "greeter", Image: "registry.example.com/greeter:1", Port: 7000, TLSSecret: "greeter-tls",
		Env: map[string]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel-collector.observability:4317",
			"OTEL_SERVICE_NAME":           "greeter",
			"TETHER_TRACING":              "1",
		}}
}

// docs/observability.md shows the plugin container's env that the traced
// spec deploys, as kube.Manifest (tether kube deploy --dry-run -o yaml)
// renders it.
func TestTracingDocsShowTheManifestEnv(t *testing.T) {
	d, _, err := Manifest(testNS, docsTracingSpec(), DeployOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := yaml.Marshal(map[string]any{"env": d.Spec.Template.Spec.Containers[0].Env})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../docs/observability.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "```yaml\n"+string(b)+"```\n") {
		t.Errorf("docs/observability.md does not show the env the traced spec deploys:\n%s", b)
	}
}
