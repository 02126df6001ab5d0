//go:build linux

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// marked lists the pids of live processes whose environment holds mark.
func marked(t *testing.T, mark string) []string {
	t.Helper()
	want := []byte(markEnv + "=" + mark + "\x00")
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []string
	for _, e := range entries {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err == nil && bytes.Contains(env, want) {
			pids = append(pids, e.Name())
		}
	}
	return pids
}
