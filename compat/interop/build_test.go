package interop_test

import (
	"strings"
	"testing"

	"github.com/tetherplug/tether/tethertest"
)

// build compiles a program once per test binary. The main module's
// programs build in the main module, with its go.sum: this module's lists
// only what its own packages need.
func build(t testing.TB, pkg string) string {
	t.Helper()
	if strings.HasPrefix(pkg, "github.com/tetherplug/tether/compat/") {
		return tethertest.Build(t, pkg)
	}
	return tethertest.BuildIn(t, "../..", pkg)
}

const (
	goPluginGreeter = "github.com/tetherplug/tether/compat/internal/gpgreeter"
	tetherGreeter   = "github.com/tetherplug/tether/examples/greeter/plugins/greeter-en"
	tetherGreeterV2 = "github.com/tetherplug/tether/examples/greeter/plugins/greeter-v2"
	goPluginHost    = "github.com/tetherplug/tether/compat/internal/gphost"
	tetherCLI       = "github.com/tetherplug/tether/cmd/tether"
)
