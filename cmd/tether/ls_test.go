package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/tethertest"
)

// lsCookie is the example plugins' cookie (tether's default), given explicitly.
var lsCookie = tether.DefaultMagicCookieKey + "=" + tether.DefaultMagicCookieValue

// lsDir is a folder like ./bin/plugins: the v1-only greeter, the v1+v2
// greeter, the two-interface plugin, and a shell script printing garbage.
func lsDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, pkg := range map[string]string{
		"greeter-en":      "github.com/tetherplug/tether/examples/greeter/plugins/greeter-en",
		"greeter-v2":      "github.com/tetherplug/tether/examples/greeter/plugins/greeter-v2",
		"greeter-counter": "github.com/tetherplug/tether/examples/multi/plugin",
	} {
		if err := os.Symlink(tethertest.Build(t, pkg), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "garbage.sh"), []byte("#!/bin/sh\necho 'no handshake here'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// runTether runs the real tether binary (through run, which also checks
// that no plugin process or socket directory outlived it) and returns
// stdout, stderr and the exit status.
func runTether(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	r := run(t, "", nil, args...)
	return r.stdout, r.stderr, r.code
}

func TestLsDirectory(t *testing.T) {
	// Two cookies: the first is another application's, the second reaches
	// the plugins through their environment.
	stdout, stderr, code := runTether(t, "ls", "--auto-mtls", "--cookie", "OTHER_APP_PLUGIN=x", "--cookie", lsCookie, lsDir(t))
	if code != 0 {
		t.Fatalf("exit %d without --strict; stderr: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimRight(stdout, "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("want 4 lines, got:\n%s", stdout)
	}
	want := [][]string{
		{"garbage.sh", "-", "error:", "not a plugin", "no handshake here"},
		{"greeter-counter", "counter v1, greeter v1", "ok"},
		{"greeter-en", "greeter v1", "ok"},
		{"greeter-v2", "greeter v1 v2", "ok"},
	}
	for i, parts := range want {
		if !strings.HasPrefix(lines[i], parts[0]+" ") {
			t.Errorf("line %d = %q, want it to start with %s", i, lines[i], parts[0])
		}
		for _, p := range parts[1:] {
			if !strings.Contains(lines[i], p) {
				t.Errorf("line %d = %q, want %q in it", i, lines[i], p)
			}
		}
	}
	if strings.Contains(lines[1], "error") || strings.HasSuffix(lines[2], "error") {
		t.Errorf("good plugins reported as errors:\n%s", stdout)
	}
}

// TestLsFilesAndDirectories: a file named on the command line is listed as
// a plugin next to a directory's, and a named file that cannot run is an
// error line, not silently skipped.
func TestLsFilesAndDirectories(t *testing.T) {
	dir := lsDir(t)
	notExec := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(notExec, []byte("not a program\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := runTether(t, "ls", filepath.Join(dir, "greeter-en"), notExec)
	if code != 0 {
		t.Fatalf("exit %d; stderr: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimRight(stdout, "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "greeter-en ") || !strings.Contains(lines[0], "greeter v1") ||
		!strings.HasPrefix(lines[1], "notes.txt ") || !strings.Contains(lines[1], "could not start") {
		t.Fatalf("want greeter-en ok and notes.txt as an error, got:\n%s", stdout)
	}
}

func TestLsJSONAndStrict(t *testing.T) {
	dir := lsDir(t)
	stdout, _, code := runTether(t, "ls", "--json", "--strict", "--cookie", lsCookie, dir)
	if code == 0 {
		t.Errorf("--strict with a broken plugin exited 0")
	}
	var got []lsEntry
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout)
	}
	byName := map[string]lsEntry{}
	for _, e := range got {
		byName[e.Name] = e
	}
	if e := byName["garbage.sh"]; e.Status != "error" || !strings.Contains(e.Error, "not a plugin") {
		t.Errorf("garbage.sh = %+v", e)
	}
	if e := byName["greeter-v2"]; e.Status != "ok" || !slices.Equal(e.Interfaces["greeter"], []int{1, 2}) || !e.Described || e.Protocol != 1 {
		t.Errorf("greeter-v2 = %+v", e)
	}
	if e := byName["greeter-counter"]; len(e.Interfaces) != 2 || e.Interfaces["counter"][0] != 1 {
		t.Errorf("greeter-counter = %+v", e)
	}

	// Without the broken plugin, --strict is content.
	_, stderr, code := runTether(t, "ls", "--strict", "--pattern", "greeter-*", dir)
	if code != 0 {
		t.Errorf("--strict with only good plugins: exit %d, %s", code, stderr)
	}
}

func TestLsManifestAndCookieErrors(t *testing.T) {
	dir := lsDir(t)
	manifest := filepath.Join(t.TempDir(), "plugins.yaml")
	content := fmt.Sprintf(`plugins:
  - name: english
    path: %s
  - name: other-app
    path: %s
    cookie: {key: OTHER_APP_PLUGIN, value: x}
  - name: plain
    path: %s
`, filepath.Join(dir, "greeter-en"), filepath.Join(dir, "greeter-counter"), filepath.Join(dir, "greeter-v2"))
	if err := os.WriteFile(manifest, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := runTether(t, "ls", "--manifest", manifest)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimRight(stdout, "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "english ") || !strings.HasSuffix(lines[0], "greeter v1     ok") ||
		!strings.HasPrefix(lines[2], "plain ") || !strings.HasSuffix(lines[2], "greeter v1 v2  ok") {
		t.Fatalf("output:\n%s", stdout)
	}
	if want := "--cookie " + tether.DefaultMagicCookieKey + "=VALUE"; !strings.HasPrefix(lines[1], "other-app ") ||
		!strings.Contains(lines[1], "wrong magic cookie") || !strings.Contains(lines[1], want) {
		t.Errorf("other-app line = %q, want a refused cookie and the variable it wants (%s)", lines[1], want)
	}

	for _, args := range [][]string{
		{"ls"},                                   // nothing to list
		{"ls", filepath.Join(dir, "missing")},    // no such directory
		{"ls", "--cookie", "novalue", dir},       // bad cookie flag
		{"ls", "--manifest", manifest + ".nope"}, // no such manifest
	} {
		if _, stderr, code := runTether(t, args...); code == 0 || !strings.Contains(stderr, "tether:") {
			t.Errorf("%v: exit %d, stderr %q; want a failure with a message", args, code, stderr)
		}
	}
}

// A tcp:// target listed without TLS flags names the flags to give, never
// the Go options they stand for (nothing needs to listen: the target is
// refused before any dial).
func TestLsNetworkTargetNamesFlags(t *testing.T) {
	stdout, stderr, code := runTether(t, "ls", "tcp://127.0.0.1:1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "give --tls-ca (and --tls-cert, --tls-key for mutual TLS), or --insecure to connect in plaintext") ||
		strings.Contains(stdout, "network.With") {
		t.Errorf("tether ls tcp://… without TLS flags printed %q; want the flags to give, not Go options", stdout)
	}
}
