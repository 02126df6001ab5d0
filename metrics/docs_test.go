package metrics_test

import (
	"os"
	"strings"
	"testing"

	"github.com/tetherplug/tether/metrics"
)

// TestDocsListEveryName: docs/observability.md names every metric, label
// and label value the Collector uses.
func TestDocsListEveryName(t *testing.T) {
	b, err := os.ReadFile("../docs/observability.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, name := range []string{metrics.CallsTotal, metrics.CallDuration, metrics.PluginUp, metrics.Instances,
		metrics.RefusalsTotal, metrics.RestartsTotal, metrics.LastExitCode, metrics.ReadyPods,
		"`plugin`", "`method`", "`code`", "`state`", "`reason`", "`admitted`", "`refused`", "`pending`",
		"`versions`", "`describe`", "`handshake`", "`other`", `method="other"`} {
		if !strings.Contains(doc, name) {
			t.Errorf("docs/observability.md does not mention %s", name)
		}
	}
}
