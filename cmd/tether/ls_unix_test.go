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
