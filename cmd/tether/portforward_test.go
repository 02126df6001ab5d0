package main

import (
	"strings"
	"testing"
)

// --port-forward is for kube:// targets: given for another target, inspect
// and call refuse it naming the flag, before anything is launched.
func TestPortForwardFlagOnlyForKube(t *testing.T) {
	for _, args := range [][]string{
		{"call", "./no-such-plugin", "greeter.v1.Greeter/Greet", "{}", "--port-forward"},
		{"inspect", "tcp://127.0.0.1:1", "--port-forward", "--insecure"},
	} {
		r := run(t, "", nil, args...)
		if want := "--port-forward is for kube:// targets, not "; r.code != exitUsage || !strings.Contains(r.stderr, want) {
			t.Errorf("tether %s: status %d, stderr %q; want 2 (usage) saying %q", strings.Join(args, " "), r.code, r.stderr, want)
		}
	}
}
