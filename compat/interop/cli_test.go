package interop_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// tetherCmd runs the real tether CLI and returns its stdout, failing the
// test with stderr when it exits non-zero.
func tetherCmd(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(build(t, tetherCLI), args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("tether %s: %v\nstderr:\n%s", strings.Join(args, " "), err, &stderr)
	}
	return stdout.String()
}

// tether inspect on a go-plugin plugin: no Describe, services from
// reflection, healthy.
func TestCLIInspectGoPlugin(t *testing.T) {
	out := tetherCmd(t, "inspect", "--json", build(t, goPluginGreeter))
	var got struct {
		ProtocolVersion int             `json:"protocol_version"`
		Health          string          `json:"health"`
		Describe        json.RawMessage `json:"describe"`
		Services        []struct {
			Name    string `json:"name"`
			Methods []struct {
				Name string `json:"name"`
				Kind string `json:"kind"`
			} `json:"methods"`
		} `json:"services"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("inspect --json printed no JSON: %v\n%s", err, out)
	}
	if got.ProtocolVersion != 1 || got.Health != "SERVING" || got.Describe != nil {
		t.Errorf("inspect = protocol %d, health %q, describe %s; want 1, SERVING, none", got.ProtocolVersion, got.Health, got.Describe)
	}
	services := map[string]string{}
	for _, s := range got.Services {
		for _, m := range s.Methods {
			services[s.Name+"/"+m.Name] = m.Kind
		}
	}
	for _, want := range []string{"greeter.v1.Greeter/Greet", "plugin.GRPCController/Shutdown", "plugin.GRPCStdio/StreamStdio"} {
		if _, ok := services[want]; !ok {
			t.Errorf("inspect lists no %s; got %v", want, services)
		}
	}
}

// tether call on a go-plugin plugin: JSON in, JSON out.
func TestCLICallGoPlugin(t *testing.T) {
	out := tetherCmd(t, "call", build(t, goPluginGreeter),
		"greeter.v1.Greeter/Greet", `{"name":"Ada"}`)
	var resp struct {
		Message string `json:"message"`
	}
	if err := json.Unmarshal([]byte(out), &resp); err != nil || resp.Message != "Howdy, Ada!" {
		t.Fatalf("call printed %q (%v), want {\"message\": \"Howdy, Ada!\"}", out, err)
	}
}

// tether ls lists a go-plugin plugin beside tether plugins: loaded, its
// interfaces unknown (no Describe), its protocol version shown.
func TestCLILsGoPlugin(t *testing.T) {
	dir := t.TempDir()
	for name, pkg := range map[string]string{"gpgreeter": goPluginGreeter, "greeter-v2": tetherGreeterV2} {
		if err := os.Symlink(build(t, pkg), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	out := tetherCmd(t, "ls", "--strict", dir)
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 2 ||
		!strings.HasPrefix(lines[0], "gpgreeter ") || !strings.Contains(lines[0], "ok (no Describe") || !strings.Contains(lines[0], "protocol 1") ||
		!strings.HasPrefix(lines[1], "greeter-v2 ") || !strings.Contains(lines[1], "greeter v1 v2") {
		t.Errorf("tether ls printed:\n%s", out)
	}
}
