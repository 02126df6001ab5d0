package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// writeTree writes files (path: content) under a new directory.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, body := range files {
		path := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// TestScan: only shared non-test files are checked, only their code
// counts, and each finding names the file and line.
func TestScan(t *testing.T) {
	root := writeTree(t, map[string]string{
		"go.mod":              "module m\n",
		"shared.go":           "package m\n\n// Reads /proc on Linux only.\nvar p = \"/proc/self/stat\"\n",
		"fd.go":               "package m\n\nfunc openPidfd() {}\n",
		"sig.go":              "package m\n\nimport \"syscall\"\n\nvar a = syscall.SysProcAttr{Pdeathsig: 9}\n",
		"watch.go":            "package m\n\nvar useInotify = true\n",
		"alloc.go":            "package m\n\nimport \"golang.org/x/sys/unix\"\n\nvar f = unix.Fallocate\n",
		"pkgpath.go":          "package m\n\nimport _ \"example.com/internal/proc\"\n",
		"comment.go":          "package m\n\n// No inotify, pidfd or /proc here: only words.\nvar x = 1\n",
		"named_linux.go":      "package m\n\nvar q = \"/proc\"\n",
		"named_unix.go":       "package m\n\nvar r = \"/proc\"\n",
		"arch_linux_arm64.go": "package m\n\nvar s = \"/proc\"\n",
		"tagged.go":           "//go:build linux && amd64\n\npackage m\n\nvar u = \"/proc\"\n",
		"nottagged.go":        "//go:build !windows\n\npackage m\n\nvar v = \"/proc\"\n",
		"archonly.go":         "//go:build amd64\n\npackage m\n\nvar w = \"/proc\"\n",
		"x_test.go":           "package m\n\nvar y = \"/proc\"\n",
		"testdata/t.go":       "package m\n\nvar z = \"/proc\"\n",
		"nested/go.mod":       "module n\n",
		"nested/n.go":         "package n\n\nvar z = \"/proc\"\n",
	})
	got, err := scan(root)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, f := range got {
		rel, _ := filepath.Rel(root, f.File)
		files = append(files, rel)
	}
	slices.Sort(files)
	want := []string{"alloc.go", "archonly.go", "fd.go", "shared.go", "sig.go", "watch.go"}
	if !slices.Equal(files, want) {
		t.Errorf("findings in %v, want %v", files, want)
	}
	for _, f := range got {
		if strings.HasSuffix(f.File, "shared.go") && (f.Line != 4 || !strings.Contains(f.String(), "shared.go:4:")) {
			t.Errorf("finding %v: want shared.go line 4", f)
		}
	}
}

// TestNamesOS: the OS and OS_ARCH suffixes Go recognises, plus _unix.
func TestNamesOS(t *testing.T) {
	for name, want := range map[string]bool{
		"a_linux.go": true, "a_darwin_arm64.go": true, "a_unix.go": true, "a_windows.go": true,
		"a.go": false, "a_amd64.go": false, "linux.go": false, "a_other.go": false, "a_bsd.go": false,
	} {
		if got := namesOS(name); got != want {
			t.Errorf("namesOS(%q) = %v, want %v", name, got, want)
		}
	}
}
