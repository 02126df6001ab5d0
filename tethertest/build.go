// Package tethertest helps test plugins and hosts with real processes: it
// compiles plugin programs once per test binary so that tests can launch
// them with tether.Launch.
//
//	func TestGreet(t *testing.T) {
//		path := tethertest.Build(t, "example.com/app/plugins/greeter-en")
//		client, err := tether.Launch(t.Context(), path)
//		...
//	}
//
// Call Cleanup from TestMain to remove the binaries.
package tethertest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	buildMu  sync.Mutex
	built    = map[string]string{}
	buildDir string
)

// Build compiles the main package pkg (an import path) with the go command,
// in the current directory's module, once per test binary, and returns the
// executable's path. The binary keeps its package's last path element as
// its name.
func Build(tb testing.TB, pkg string) string {
	tb.Helper()
	return BuildIn(tb, "", pkg)
}

// BuildIn is Build with the go command run in dir, for a package of another
// module than the test's (dir is that module's directory; empty means the
// current directory).
func BuildIn(tb testing.TB, dir, pkg string) string {
	tb.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := built[pkg]; ok {
		return p
	}
	if buildDir == "" {
		d, err := os.MkdirTemp("", "tether-test-bin-")
		if err != nil {
			tb.Fatal(err)
		}
		buildDir = d
	}
	// Each binary keeps its package's name (messages quote it) in a
	// directory of its own: two main packages may share a last element
	// (".../driver/plugin", ".../multi/plugin").
	sub := filepath.Join(buildDir, strings.NewReplacer("/", "_", ".", "_").Replace(pkg))
	if err := os.MkdirAll(sub, 0o755); err != nil {
		tb.Fatal(err)
	}
	out := filepath.Join(sub, filepath.Base(pkg))
	cmd := exec.Command(goTool(), "build", "-o", out, pkg)
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		tb.Fatalf("go build %s: %v", pkg, err)
	}
	built[pkg] = out
	return out
}

// Cleanup removes every binary Build made.
func Cleanup() {
	buildMu.Lock()
	defer buildMu.Unlock()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
		buildDir = ""
		built = map[string]string{}
	}
}

// goTool finds the go command: on PATH, else where the official installer
// puts it.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "/usr/local/go/bin/go"
}
