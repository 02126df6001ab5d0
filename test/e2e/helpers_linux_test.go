//go:build linux

package e2e_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// envOf reads one variable from a running process's environment.
func envOf(t *testing.T, pid int, key string) string {
	t.Helper()
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		t.Fatalf("reading environment of %d: %v", pid, err)
	}
	for _, kv := range strings.Split(string(env), "\x00") {
		if v, ok := strings.CutPrefix(kv, key+"="); ok {
			return v
		}
	}
	t.Fatalf("process %d has no %s", pid, key)
	return ""
}
