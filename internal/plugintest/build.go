// Package plugintest builds and serves the plugins tether's own tests and
// benchmarks run: real programs, built once per test binary.
package plugintest

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

// Build compiles the main package pkg (an import path such as
// "github.com/tetherplug/tether/internal/plugintest/echoplugin") once per test
// binary and returns the path of the executable. Binaries live in a directory
// removed by Cleanup (call it from TestMain) or left in the OS temp dir.
func Build(tb testing.TB, pkg string) string {
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
	// Each binary keeps its package's name (tests read it in messages) in
	// a directory of its own: two main packages may share a last element
	// (".../driver/plugin", ".../multi/plugin").
	sub := filepath.Join(buildDir, strings.NewReplacer("/", "_", ".", "_").Replace(pkg))
	if err := os.MkdirAll(sub, 0o755); err != nil {
		tb.Fatal(err)
	}
	out := filepath.Join(sub, filepath.Base(pkg))
	cmd := exec.Command(goTool(), "build", "-o", out, pkg)
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

// EchoPlugin is the import path of the echo test plugin.
const EchoPlugin = "github.com/tetherplug/tether/internal/plugintest/echoplugin"

// RawPlugin is the import path of a bare gRPC program that passes the
// launch handshake but serves neither Describe nor reflection.
const RawPlugin = "github.com/tetherplug/tether/internal/plugintest/rawplugin"

// HostProg is the import path of a minimal host that launches the plugin
// named by its argument, prints the plugin's pid and blocks.
const HostProg = "github.com/tetherplug/tether/internal/plugintest/hostprog"
