//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLsCurrentDirectory: "cd bin/plugins && tether ls ." lists every plugin
// as ok, and "tether ls NAME" runs ./NAME, even with a program of the same
// name on $PATH, which must not run.
func TestLsCurrentDirectory(t *testing.T) {
	dir := lsDir(t)
	decoys := t.TempDir()
	ran := filepath.Join(t.TempDir(), "decoy-ran")
	for _, name := range []string{"greeter-en", "greeter-v2", "greeter-counter"} {
		script := "#!/bin/sh\ntouch '" + ran + "'\necho 'I am the program on $PATH'\n"
		if err := os.WriteFile(filepath.Join(decoys, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{"PATH=" + decoys + string(os.PathListSeparator) + os.Getenv("PATH")}
	for _, args := range [][]string{
		{"ls", "--pattern", "greeter-*", "."},
		{"ls", "greeter-en", "greeter-v2", "greeter-counter"},
	} {
		r := runIn(t, dir, "", env, args...)
		if r.code != 0 {
			t.Fatalf("tether %v: exit %d; stderr: %s", args, r.code, r.stderr)
		}
		lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
		if len(lines) != 3 {
			t.Errorf("tether %v in the plugin directory: want 3 lines, got:\n%s", args, r.stdout)
		}
		for _, l := range lines {
			if !strings.HasSuffix(l, " ok") {
				t.Errorf("tether %v in the plugin directory: %q is not ok", args, l)
			}
		}
	}
	if _, err := os.Stat(ran); !os.IsNotExist(err) {
		t.Error("a program found in $PATH ran instead of the plugin in the directory")
	}
}

// TestLsManifestOnly: tether ls DIR runs every executable in DIR, a program
// that is not a plugin too; with --manifest-only it runs only what the
// manifests in DIR name, and a DIR without a manifest is an error.
func TestLsManifestOnly(t *testing.T) {
	dir := lsDir(t)
	ran := filepath.Join(t.TempDir(), "ran")
	if err := os.WriteFile(filepath.Join(dir, "not-a-plugin"), []byte("#!/bin/sh\ntouch '"+ran+"'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "plugins.yaml"), []byte("plugins:\n  - path: ./greeter-en\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := run(t, "", nil, "ls", "--manifest-only", dir)
	if r.code != 0 || len(strings.Split(strings.TrimSpace(r.stdout), "\n")) != 1 || !strings.HasPrefix(r.stdout, "greeter-en ") {
		t.Errorf("ls --manifest-only: exit %d, stdout:\n%s\nstderr: %s\nwant greeter-en alone", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(ran); !os.IsNotExist(err) {
		t.Error("ls --manifest-only ran a program no manifest names")
	}
	r = run(t, "", nil, "ls", dir)
	if _, err := os.Stat(ran); err != nil || !strings.Contains(r.stdout, "not-a-plugin ") {
		t.Errorf("ls without --manifest-only: %v, stdout:\n%s\nwant it to run every executable, as its help says", err, r.stdout)
	}
	empty := t.TempDir()
	r = run(t, "", nil, "ls", "--manifest-only", empty)
	want := "tether: ls --manifest-only: " + empty + " has no manifest (a *.yaml, *.yml or *.json file without an execute bit)\n"
	if r.code != 1 || r.stderr != want {
		t.Errorf("ls --manifest-only EMPTY: exit %d, stderr %q; want 1, %q", r.code, r.stderr, want)
	}
}
