package kube

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tetherplug/tether"
)

// contextsKubeconfig writes a kubeconfig whose current context "down"
// points at a closed port and whose context "up" (namespace "ups") at
// server.
func contextsKubeconfig(t *testing.T, server string) string {
	t.Helper()
	conf := `apiVersion: v1
kind: Config
clusters:
- {name: down, cluster: {server: "http://127.0.0.1:1"}}
- {name: up, cluster: {server: "` + server + `"}}
users:
- {name: u, user: {token: t}}
contexts:
- {name: down, context: {cluster: down, user: u}}
- {name: up, context: {cluster: up, user: u, namespace: ups}}
current-context: down
`
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// WithContext reaches the cluster of the kubeconfig context it names, not
// the current one's; DefaultNamespace is that context's namespace, or
// "default" when it names none.
func TestWithContext(t *testing.T) {
	var asked atomic.Int32
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}`))
	}))
	defer api.Close()
	kc := contextsKubeconfig(t, api.URL)
	t.Setenv("KUBERNETES_SERVICE_HOST", "") // not in a pod, whatever runs the test

	_, err := tetherOpen("kube://plugins/greeter", WithKubeconfig(kc), WithContext("up"), WithInsecure())
	if !errors.Is(err, tether.ErrBadTarget) || !strings.Contains(err.Error(), "there is no Deployment greeter") || asked.Load() == 0 {
		t.Fatalf("Open with context up: %v (%d requests), want the up cluster to say there is no Deployment", err, asked.Load())
	}
	for ctx, want := range map[string]string{"up": "ups", "": "default", "down": "default"} {
		if ns, err := DefaultNamespace(kc, ctx); err != nil || ns != want {
			t.Errorf("DefaultNamespace(%q): %q, %v; want %q", ctx, ns, err, want)
		}
	}
	if _, err := DefaultNamespace(kc, "nope"); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("DefaultNamespace of an unknown context: %v", err)
	}
}
