package metrics_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestRootDoesNotLinkPrometheus: a host or plugin that imports package
// tether alone does not link the Prometheus client. Only client_model, the
// exposition's generated protobuf types, in which a plugin answers
// Plugin/Metrics, is allowed.
func TestRootDoesNotLinkPrometheus(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/tetherplug/tether").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "github.com/prometheus/") && dep != "github.com/prometheus/client_model/go" {
			t.Errorf("package tether depends on %s", dep)
		}
	}
}
