package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/tethertest"
)

func TestInspectGreeter(t *testing.T) {
	r := run(t, "", greeterEnv, "inspect", greeter(t))
	requireOK(t, r)
	for _, want := range []string{
		"greeter.v1.Greeter",
		"Greet(greeter.v1.GreetRequest) returns (greeter.v1.GreetResponse)",
		"health:            SERVING",
		"greeter v1 (greeter.v1.Greeter)",
		"core 1, app 1, unix ",
		"plaintext",
		"protocol version:  1",
		map[string]string{"fast": "transport:         fast (unix /", // docs/protocol.md quotes it
			"grpc": "transport:         grpc\n"}[tethertest.ExpectedTransport()],
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("inspect output lacks %q:\n%s", want, r.stdout)
		}
	}
	r = run(t, "", greeterEnv, "inspect", "--transport", "grpc", greeter(t))
	requireOK(t, r)
	if !strings.Contains(r.stdout, "transport:         grpc\n") {
		t.Errorf("inspect --transport grpc: %s", r.stdout)
	}
	r = run(t, "", greeterEnv, "inspect", "--transport", "h3", greeter(t))
	if r.code == 0 || !strings.Contains(r.stderr, `--transport "h3": want fast or grpc`) {
		t.Errorf("inspect --transport h3: exit %d, stderr %q; want a failure naming the flag", r.code, r.stderr)
	}
}

func TestInspectJSON(t *testing.T) {
	r := run(t, "", nil, "inspect", "--json", "--auto-mtls", echo(t))
	requireOK(t, r)
	var info inspection
	if err := json.Unmarshal([]byte(r.stdout), &info); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, r.stdout)
	}
	if info.Health != "SERVING" || info.Pid <= 0 || info.ProtocolVersion != 1 {
		t.Errorf("health %q, pid %d, protocol %d", info.Health, info.Pid, info.ProtocolVersion)
	}
	if want := tethertest.ExpectedTransport(); info.Transport != want {
		t.Errorf("transport %q, want %q", info.Transport, want)
	}
	if f := info.Describe.Fast; tethertest.ExpectedTransport() == "fast" && (f == nil || !f.TLS || f.Network != "unix") {
		t.Errorf("describe's fast transport = %+v, want a unix socket over TLS (--auto-mtls)", f)
	}
	h := info.Handshake
	if h.CoreVersion != 1 || h.Network != "unix" || h.Protocol != "grpc" || !h.TLS || h.Address == "" {
		t.Errorf("handshake = %+v, want core 1, unix, grpc, TLS", h)
	}
	if info.Describe == nil || len(info.Describe.Interfaces) != 2 || info.Describe.Name != "echo" {
		t.Fatalf("describe = %+v, want echo with interfaces echo v1 and v2", info.Describe)
	}
	kinds := map[string]string{}
	for _, s := range info.Services {
		if s.Name == "tether.echo.v1.Echo" {
			for _, m := range s.Methods {
				kinds[m.Name] = string(m.Kind)
				if m.Request != "tether.echo.v1.Message" || m.Response != "tether.echo.v1.Message" {
					t.Errorf("method %+v: want Message in and out", m)
				}
			}
		}
	}
	want := map[string]string{"Unary": "unary", "ServerStream": "server-streaming", "ClientStream": "client-streaming", "Bidi": "bidi-streaming"}
	for name, kind := range want {
		if kinds[name] != kind {
			t.Errorf("method %s kind %q, want %q (all: %v)", name, kinds[name], kind, kinds)
		}
	}
}

// TestInspectNotPlugin: programs that are not plugins fail fast with the
// reason, and nothing they started is left running.
func TestInspectNotPlugin(t *testing.T) {
	dir := t.TempDir()
	readme := filepath.Join(dir, "README.md")
	script := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(readme, []byte("# tether\n\nA plugin system.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(script, []byte("just some text\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, path string
		env        []string
		want       string // what the message must also say
	}{
		{"true", "/bin/true", nil, "exited without printing a handshake line (exit status 0)"},
		{"cat", "/bin/cat", nil, "without printing a handshake line"},
		{"readme", readme, nil, "permission denied"},
		{"text file", script, nil, "exec format error"},
		{"prints garbage", echo(t), []string{"ECHO_MODE=garbage"}, `hello, I am not a plugin`},
		{"exits 3", echo(t), []string{"ECHO_MODE=exit3"}, "exit status 3"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := run(t, "", c.env, "inspect", c.path)
			if r.code == 0 {
				t.Fatalf("inspect %s exited 0:\n%s", c.path, r.stdout)
			}
			if !strings.Contains(r.stderr, "not a plugin") || !strings.Contains(r.stderr, c.want) {
				t.Errorf("stderr %q lacks \"not a plugin\" or %q", r.stderr, c.want)
			}
			if r.elapsed > 15*time.Second {
				t.Errorf("took %v, want under 15 s", r.elapsed)
			}
		})
	}
}

func TestInspectHandshakeFlags(t *testing.T) {
	// --cookie reaches the plugin: the right one loads it, another does not.
	key := tether.DefaultMagicCookieKey
	r := run(t, "", nil, "inspect", "--cookie", key+"="+tether.DefaultMagicCookieValue, echo(t))
	requireOK(t, r)
	r = run(t, "", nil, "inspect", "--cookie", key+"=other", echo(t))
	if r.code == 0 || !strings.Contains(r.stderr, "wrong magic cookie") || !strings.Contains(r.stderr, "--cookie") {
		t.Errorf("a wrong cookie: status %d, stderr %q", r.code, r.stderr)
	}
	v3 := []string{"ECHO_MODE=v3"}
	r = run(t, "", v3, "inspect", echo(t))
	if r.code == 0 || !strings.Contains(r.stderr, "incompatible versions") || !strings.Contains(r.stderr, "--protocol-version") {
		t.Errorf("v3 plugin offered 1: status %d, stderr %q", r.code, r.stderr)
	}
	r = run(t, "", v3, "inspect", "--json", "--protocol-version", "1", "--protocol-version", "3", echo(t))
	requireOK(t, r)
	var info inspection
	if err := json.Unmarshal([]byte(r.stdout), &info); err != nil {
		t.Fatal(err)
	}
	if info.ProtocolVersion != 3 || info.Handshake.AppVersion != 3 {
		t.Errorf("negotiated %d (handshake %d), want 3", info.ProtocolVersion, info.Handshake.AppVersion)
	}
	r = run(t, "", []string{"ECHO_MODE=hang"}, "inspect", "--timeout", "300ms", echo(t))
	if r.code == 0 || !strings.Contains(r.stderr, "start timeout") {
		t.Errorf("hanging plugin: status %d, stderr %q", r.code, r.stderr)
	}
}

func TestInspectUsage(t *testing.T) {
	r := run(t, "", nil, "inspect")
	if r.code != exitUsage || !strings.Contains(r.stderr, "inspect takes TARGET [SYMBOL]") {
		t.Errorf("inspect without a plugin: status %d, stderr %q", r.code, r.stderr)
	}
	r = run(t, "", nil, "inspect", "--cookie", "nokey", echo(t))
	if r.code != exitUsage || !strings.Contains(r.stderr, "KEY=VALUE") {
		t.Errorf("bad --cookie: status %d, stderr %q", r.code, r.stderr)
	}
}
