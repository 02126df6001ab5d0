package interop_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The main module's internal/plugintest cannot be imported from this
// module, so the tests build their programs here: once per test binary,
// into a directory TestMain removes.
var (
	buildMu  sync.Mutex
	built    = map[string]string{}
	buildDir string
)

func build(t testing.TB, pkg string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := built[pkg]; ok {
		return p
	}
	out := filepath.Join(buildDir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Stderr = os.Stderr
	if !strings.HasPrefix(pkg, "github.com/tetherplug/tether/compat/") {
		// The main module's programs build in the main module, with its
		// go.sum: this module's lists only what its own packages need.
		cmd.Dir = "../.."
	}
	if err := cmd.Run(); err != nil {
		t.Fatalf("go build %s: %v", pkg, err)
	}
	built[pkg] = out
	return out
}

const (
	goPluginGreeter = "github.com/tetherplug/tether/compat/internal/gpgreeter"
	tetherGreeter   = "github.com/tetherplug/tether/examples/greeter/plugins/greeter-en"
	tetherGreeterV2 = "github.com/tetherplug/tether/examples/greeter/plugins/greeter-v2"
	goPluginHost    = "github.com/tetherplug/tether/compat/internal/gphost"
	tetherCLI       = "github.com/tetherplug/tether/cmd/tether"
)
