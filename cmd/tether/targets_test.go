package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// absGreeter is the greeter plugin's absolute path, for exec:// targets.
func absGreeter(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(greeter(t))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestInspectExecTarget: inspect takes exec:///abs/path as well as a path.
func TestInspectExecTarget(t *testing.T) {
	target := "exec://" + absGreeter(t)
	r := run(t, "", greeterEnv, "inspect", "--json", target)
	requireOK(t, r)
	var info inspection
	if err := json.Unmarshal([]byte(r.stdout), &info); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, r.stdout)
	}
	if info.Plugin != target || info.Health != "SERVING" || info.Describe == nil ||
		len(info.Describe.Interfaces) != 1 || info.Describe.Interfaces[0].Name != "greeter" || info.Pid <= 0 {
		t.Errorf("inspect %s = %+v", target, info)
	}
}

// TestCallExecTarget: call takes exec:///abs/path.
func TestCallExecTarget(t *testing.T) {
	r := run(t, "", greeterEnv, "call", "exec://"+absGreeter(t), "Greeter/Greet", `{"name":"Ada"}`)
	requireOK(t, r)
	var resp struct{ Message string }
	if err := json.Unmarshal([]byte(r.stdout), &resp); err != nil || resp.Message != "Hello, Ada!" {
		t.Errorf("call via exec:// target: %q, %v", r.stdout, err)
	}
}

// TestTargetErrors: a target that does not parse, a scheme without a
// runtime, and exec-only flags on another runtime's target each fail with
// a message naming the cause, starting nothing.
func TestTargetErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"inspect", "exec://relative/greeter"}, []string{"exec:///absolute/path"}},
		{[]string{"inspect", "nosuchscheme://h:7000"}, []string{`no runtime is registered for scheme "nosuchscheme"`, "exec"}},
		{[]string{"call", "nosuchscheme://h:7000", "Greeter/Greet", "{}"}, []string{`no runtime is registered for scheme "nosuchscheme"`}},
		{[]string{"inspect", "tcp://h:7000", "--", "--flag"}, []string{"arguments after -- are for local programs", "tcp://h:7000"}},
		{[]string{"inspect", "--auto-mtls", "tcp://h:7000"}, []string{"--auto-mtls is for local programs", "tcp://h:7000"}},
		{[]string{"ls", "exec://relative/greeter"}, []string{"exec:///absolute/path"}},
	} {
		r := run(t, "", nil, tc.args...)
		if r.code == 0 {
			t.Errorf("tether %v: exit 0", tc.args)
		}
		for _, w := range tc.want {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("tether %v: stderr %q lacks %q", tc.args, r.stderr, w)
			}
		}
	}
}

// TestLsTargets: ls takes a directory, a plugin file, a manifest (by its
// name, without --manifest) whose entries name targets and exec settings,
// and exec:// and unknown-scheme targets, in one listing; the unknown
// scheme is that entry's error only.
func TestLsTargets(t *testing.T) {
	dir := lsDir(t)
	manifest := filepath.Join(t.TempDir(), "plugins.yaml")
	content := fmt.Sprintf(`plugins:
  - name: from-manifest
    target: exec://%s
    exec: {args: [--unused], env: [A=1]}
  - name: remote
    target: nosuchscheme://h:7000
`, filepath.Join(dir, "greeter-v2"))
	if err := os.WriteFile(manifest, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	target := "exec://" + absGreeter(t)
	r := run(t, "", nil, "ls", "--json", "--pattern", "greeter-c*", dir, filepath.Join(dir, "greeter-en"), manifest, target)
	requireOK(t, r)
	var entries []lsEntry
	if err := json.Unmarshal([]byte(r.stdout), &entries); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, r.stdout)
	}
	type row struct{ name, target, status string }
	want := []row{
		{"greeter-counter", filepath.Join(dir, "greeter-counter"), "ok"},
		{"greeter-en", filepath.Join(dir, "greeter-en"), "ok"},
		{"from-manifest", "exec://" + filepath.Join(dir, "greeter-v2"), "ok"},
		{"remote", "nosuchscheme://h:7000", "error"},
		{"greeter-en", target, "error"}, // a second plugin of that name
	}
	if len(entries) != len(want) {
		t.Fatalf("got %d entries, want %d:\n%s", len(entries), len(want), r.stdout)
	}
	for i, e := range entries {
		if got := (row{e.Name, e.Target, e.Status}); got != want[i] {
			t.Errorf("entry %d = %+v, want %+v (error %q)", i, got, want[i], e.Error)
		}
	}
	if e := entries[3]; !strings.Contains(e.Error, "plugin remote") || !strings.Contains(e.Error, `no runtime is registered for scheme "nosuchscheme"`) {
		t.Errorf("remote's error = %q, want one naming the plugin and the scheme", e.Error)
	}
	if e := entries[2]; len(e.Interfaces["greeter"]) != 2 {
		t.Errorf("from-manifest = %+v, want greeter v1 v2", e)
	}

	// The same exec:// target alone is ok.
	r = run(t, "", nil, "ls", target)
	requireOK(t, r)
	if !strings.HasPrefix(r.stdout, "greeter-en ") || !strings.HasSuffix(strings.TrimSpace(r.stdout), " ok") {
		t.Errorf("ls %s:\n%s", target, r.stdout)
	}
}
