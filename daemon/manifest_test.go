package daemon

import (
	"errors"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tetherplug/tether/supervise"
)

// TestParseManifest: every field lands in the settings and specs; paths
// are absolute (given so, or relative to the manifest's directory), on
// every OS.
func TestParseManifest(t *testing.T) {
	base := t.TempDir() // absolute on every OS, unlike /var/tmp on Windows
	doc := `
data_dir: ` + filepath.ToSlash(filepath.Join(base, "st")) + `
quiet_period: 2s
plugins:
  - name: greeter
    path: bin/greeter
    args: [-v]
    env: {B: "2", A: one}
    interfaces: {greeter: [1, 2]}
    restart: always
    backoff: {initial: 10ms, max: 1s, multiplier: 3, jitter: 0.1, reset_after: 5s}
    budget: {restarts: 4, within: 30s}
    health: {interval: 1s, timeout: 3s}
    outlive: true
    auto_mtls: true
    start_timeout: 9s
  - name: remote
    target: tcp://127.0.0.1:7000
    tls: {cert: c.pem, key: k.pem, ca: /etc/ca.pem}
  - name: listed
    path: /abs/p
    env: [X=1]
`
	m, err := Parse(filepath.Join(base, "etc", "m.yaml"), []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(base, "st")
	if m.DataDir != data || m.Socket != filepath.Join(data, "control.sock") || m.QuietPeriod != 2*time.Second {
		t.Errorf("settings: %+v; want data_dir %s", m, data)
	}
	g := m.Specs[0]
	want := supervise.Spec{Name: "greeter", Target: filepath.Join(base, "etc", "bin", "greeter"), Args: []string{"-v"}, Env: []string{"A=one", "B=2"},
		Restart: supervise.Always, OutliveHost: true, AutoMTLS: true, StartTimeout: 9 * time.Second,
		Backoff: supervise.Backoff{Initial: 10 * time.Millisecond, Max: time.Second, Multiplier: 3, Jitter: 0.1, ResetAfter: 5 * time.Second},
		Budget:  supervise.Budget{Restarts: 4, Within: 30 * time.Second},
		Health:  supervise.Health{Interval: time.Second, Timeout: 3 * time.Second}}
	want.Interfaces = g.Interfaces
	if g.Hash() != want.Hash() || len(g.Interfaces) != 1 || !slices.Equal(g.Interfaces[0].Versions, []int{1, 2}) {
		t.Errorf("greeter:\n got %+v\nwant %+v", g, want)
	}
	if r := m.Specs[1]; r.Target != "tcp://127.0.0.1:7000" || len(r.Options) != 1 {
		t.Errorf("remote: %+v", r)
	}
	if l := m.Specs[2]; !slices.Equal(l.Env, []string{"X=1"}) {
		t.Errorf("listed env: %v", l.Env)
	}
}

func TestParseManifestDefaults(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", t.TempDir()) // absolute on every OS
	m, err := Parse("m.yaml", []byte("plugins: [{name: a, path: ./a}]"))
	if err != nil {
		t.Fatal(err)
	}
	dir, err := DefaultDataDir() // $XDG_STATE_HOME/tether on Unix, %LocalAppData%\tether on Windows
	if err != nil {
		t.Fatal(err)
	}
	if m.DataDir != dir || m.Socket != filepath.Join(dir, "control.sock") {
		t.Errorf("defaults: data dir %s, socket %s", m.DataDir, m.Socket)
	}
	if abs, _ := filepath.Abs("a"); m.Specs[0].Target != abs {
		t.Errorf("relative path: %s, want %s", m.Specs[0].Target, abs)
	}
}

// TestParseManifestErrors: every refusal names the file, the plugin and the
// field.
func TestParseManifestErrors(t *testing.T) {
	for _, c := range []struct {
		doc, plugin, field, says string
	}{
		{"plugins: [{name: a, path: x, restartt: always}]", `"a"`, "restartt", "unknown field"},
		{"plugins: [{name: a, path: x, backoff: {initail: 1s}}]", `"a"`, "initail", "unknown field"},
		{"plugins: [{path: x}]", "#1", "name", "want 1 to 63"},
		{"plugins: [{name: a}]", `"a"`, "path", "missing"},
		{"plugins: [{name: a, path: x, target: 'tcp://h:1'}]", `"a"`, "path", "not both"},
		{"plugins: [{name: a, target: /bin/x}]", `"a"`, "target", "use path"},
		{"plugins: [{name: a, path: x, restart: sometimes}]", `"a"`, "restart", "sometimes"},
		{"plugins: [{name: a, path: x, backoff: {initial: soon}}]", `"a"`, "backoff.initial", "not a duration"},
		{"plugins: [{name: a, path: x, backoff: {initial: 2s, max: 1s}}]", `"a"`, "backoff.max", "less than"},
		{"plugins: [{name: a, path: x, health: {timeout: 1s}}]", `"a"`, "health.timeout", "less than"},
		{"plugins: [{name: a, path: x, budget: {restarts: many}}]", `"a"`, "budget.restarts", "want a int value, got a string"},
		{"plugins: [{name: a, path: x, env: {'': v}}]", `"a"`, "env", "name"},
		{"plugins: [{name: a, path: x, env: [novalue]}]", `"a"`, "env", "NAME=VALUE"},
		{"plugins: [{name: a, path: x, interfaces: {g: [0]}}]", `"a"`, "interfaces", "version 0"},
		{"plugins: [{name: a, path: x, tls: {ca: c}}]", `"a"`, "tls", "network targets"},
		{"plugins: [{name: a, target: 'tcp://h:1', tls: {cert: c}}]", `"a"`, "tls", "key and ca missing: tls: {cert: HOST.crt, key: HOST.key, ca: CA.crt}"},
		{"plugins: [{name: a, target: 'tcp://h:1', tls: {ca: c}}]", `"a"`, "tls", "cert and key missing: tls: {cert: HOST.crt"},
		{"plugins: [{name: a, target: 'tcp://h:1', tls: {cert: c, key: k}}]", `"a"`, "tls", "ca missing"},
		{"plugins: [{name: a, target: 'tcp://h:1', tls: {}}]", `"a"`, "tls", "field tls: cert, key and ca missing: tls: {cert: HOST.crt"},
		{"plugins: [{name: a, target: 'tcp://h:1'}]", `"a"`, "tls",
			"tcp://h:1 is reached over the network and requires TLS: give tls: {cert: HOST.crt, key: HOST.key, ca: CA.crt}"},
		{"plugins: [{name: a, target: 'dns:///h:1'}]", `"a"`, "tls", "or insecure: true to connect in plaintext"},
		{"plugins: [{name: a, target: 'kube://ns/g', insecure: true}]", `"a"`, "insecure", "is for tcp://, unix:// and dns:/// targets, not kube://ns/g"},
		{"plugins: [{name: a, target: 'run://g', tls: {cert: c, key: k, ca: ca}}]", `"a"`, "tls", "is for tcp://, unix:// and dns:/// targets"},
		{"plugins: [{name: a, target: 'tcp://h:1', args: [x]}]", `"a"`, "args", "local programs"},
		{"plugins: [{name: a, target: 'nomad://jobs/g'}]", `"a"`, "target", `no runtime is registered for scheme "nomad" in this program (registered: `},
		{"plugins: [{name: a, path: x}, {name: a, path: z}]", `"a"`, "name", "twice"},
		{"socket_path: x", "", "socket_path", "unknown field"},
		{"quiet_period: 5", "", "quiet_period", "want a string value, got a number"},
		{"plugins: {name: a}", "", "plugins", "got a object"},
		{"plugins: [\n  - name: a\n  path: x", "", "", "not YAML"},
		// Strict as documented: each key once, in its case; no 0 taken for the default.
		{"plugins: [{name: a, path: x}]\nplugins: [{name: b, path: y}]", "", "plugins", "given twice (lines 1 and 2): give each key once"},
		{"plugins: [{name: a, path: x, restart: always, restart: never}]", `"a"`, "restart", "given twice"},
		{"plugins: [{name: a, path: x, env: {A: '1', A: '2'}}]", `"a"`, "env.A", "given twice"},
		{"plugins: [{name: a, path: x, Restart: always}]", `"a"`, "Restart", `unknown field "Restart": keys are case-sensitive (did you mean "restart"?)`},
		{"plugins: [{name: a, path: x, OUTLIVE: true}]", `"a"`, "OUTLIVE", "case-sensitive"},
		{"plugins: [{name: a, path: x, Env: {A: b}}]", `"a"`, "Env", "case-sensitive"},
		{"plugins: [{name: a, path: x, backoff: {Initial: 1s}}]", `"a"`, "backoff.Initial", "case-sensitive"},
		{"Plugins: [{name: a, path: x}]", "", "Plugins", "case-sensitive"},
		{"plugins: [{name: a, path: x, budget: {restarts: 0}}]", `"a"`, "budget.restarts",
			"0 cannot be honoured (0 means the default, 5): omit the field for the default, or give 1 or more"},
		{"plugins: [{name: a, path: x, backoff: {jitter: 0}}]", `"a"`, "backoff.jitter", "0 cannot be honoured (0 means the default, 0.2)"},
		{"plugins: [{name: a, path: x, backoff: {multiplier: 0}}]", `"a"`, "backoff.multiplier", "want 1 or more"},
		{"plugins: [{name: a, path: x, health: {interval: 0s}}]", `"a"`, "health.interval", `"0s" cannot be honoured (0 means the default, 10s)`},
		{"plugins: [{name: a, path: x, start_timeout: 0s}]", `"a"`, "start_timeout", "cannot be honoured"},
		{"quiet_period: 0s", "", "quiet_period", "cannot be honoured"},
	} {
		_, err := Parse("/m/x.yaml", []byte(c.doc))
		var me *ManifestError
		if !errors.As(err, &me) {
			t.Errorf("%s: error %v, want a *ManifestError", c.doc, err)
			continue
		}
		if me.File != "/m/x.yaml" || me.Plugin != c.plugin || me.Field != c.field || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: %q (plugin %q, field %q); want plugin %q, field %q, saying %q",
				c.doc, err, me.Plugin, me.Field, c.plugin, c.field, c.says)
		}
		if goOption.MatchString(err.Error()) {
			t.Errorf("%s: %q names a Go option; a manifest's error names its fields", c.doc, err)
		}
	}
}

// goOption matches a Go option's name (network.WithInsecure) in a message.
var goOption = regexp.MustCompile(`\bWith[A-Z]\w*\(|\b(network|tether|supervise)\.[A-Z]`)

// TestParseNetworkTLS: a network entry is accepted with a complete tls or
// with insecure: true, and a unix socket with neither (it is plaintext by
// default); the options are the ones the runtime needs.
func TestParseNetworkTLS(t *testing.T) {
	for _, c := range []struct {
		entry   string
		options int
	}{
		{"{name: a, target: 'tcp://h:1', tls: {cert: c, key: k, ca: ca}}", 1},
		{"{name: a, target: 'dns:///h:1', insecure: true}", 1},
		{"{name: a, target: 'unix:///run/p.sock'}", 0},
	} {
		m, err := Parse("/m/x.yaml", []byte("plugins: ["+c.entry+"]"))
		if err != nil {
			t.Errorf("%s: %v", c.entry, err)
			continue
		}
		if got := len(m.Specs[0].Options); got != c.options {
			t.Errorf("%s: %d options, want %d", c.entry, got, c.options)
		}
	}
}

func FuzzParseManifest(f *testing.F) {
	f.Add([]byte("plugins: [{name: a, path: x, env: {A: 1}, backoff: {initial: 1s}}]"))
	f.Add([]byte("data_dir: d\nsocket: s\nplugins:\n  - name: r\n    target: tcp://h:1\n    tls: {ca: c}\n"))
	f.Add([]byte("plugins: [{name: a, path: x, interfaces: {g: [1]}, env: [A=b]}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse("/f/m.yaml", data)
		if err != nil {
			var me *ManifestError
			if !errors.As(err, &me) || me.File != "/f/m.yaml" {
				t.Fatalf("error %v is not a *ManifestError naming the file", err)
			}
			return
		}
		for _, sp := range m.Specs {
			if !validName.MatchString(sp.Name) || sp.Target == "" {
				t.Fatalf("accepted a spec with name %q, target %q", sp.Name, sp.Target)
			}
		}
	})
}
