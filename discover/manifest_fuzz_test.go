package discover_test

import (
	"encoding/hex"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/discover"
)

// FuzzParseManifest: any input either fails with an error or yields plugins
// that satisfy the manifest's rules (a target that parses; for local
// programs a path, made absolute against the base directory, and for other
// runtimes no exec settings; a unique name; 64-hex-digit checksums if any;
// positive protocol versions; environment entries with a named key) —
// never a panic.
func FuzzParseManifest(f *testing.F) {
	for _, seed := range []string{
		"plugins:\n  - name: greeter-en\n    path: ./greeter-en\n    args: [--verbose]\n    env: {LANG: en}\n" +
			"    cookie: {key: APP_PLUGIN, value: hello}\n    protocol_versions: [1, 2]\n" +
			"    checksum: \"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"\n",
		"plugins:\n  - path: /abs/plugin\n  - path: other\n",
		"plugins: []\n",
		"plugins:\n  - {path: a, name: x}\n  - {path: b, name: x}\n",
		"{\"plugins\": [{\"path\": \"p\", \"protocol_versions\": [0]}]}",
		"plugins:\n  - path: p\n    unknown: 1\n",
		"",
		"- not a map",
		"plugins:\n  - name: en\n    target: ./bin/greeter-en\n    exec:\n      args: [--verbose]\n      env: [FOO=1]\n" +
			"      sha256: \"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"\n      restart: true\n",
		"plugins:\n  - target: exec:///abs/plugin\n  - target: tcp://h:7000\n  - target: 'unix:///run/p.sock'\n",
		"plugins:\n  - target: tcp://h:7000\n    exec: {args: [-v]}\n",
		"plugins:\n  - {target: ./a, path: ./b}\n",
		"plugins:\n  - target: exec://relative\n",
		"plugins:\n  - target: ./a\n    args: [-v]\n    exec: {args: [-w], env: [NOEQUALS]}\n",
		"plugins:\n  - {target: 'kube://ns/name', protocol_versions: [2]}\n  - {path: 'x://y'}\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		plugins, err := discover.ParseManifest(data, "/base")
		if err != nil {
			return
		}
		names := map[string]bool{}
		for _, p := range plugins {
			checkPlugin(t, p)
			if p.Name == "" || names[p.Name] {
				t.Errorf("plugin name %q is empty or repeated", p.Name)
			}
			names[p.Name] = true
			_ = p.LaunchOptions(tether.HandshakeConfig{})
		}
	})
}

// checkPlugin checks one parsed entry against the manifest's rules.
func checkPlugin(t *testing.T, p discover.Plugin) {
	t.Helper()
	target, err := tether.ParseTarget(p.Target)
	if err != nil {
		t.Errorf("plugin %q: target %q does not parse: %v", p.Name, p.Target, err)
		return
	}
	if target.Scheme == "exec" {
		if !filepath.IsAbs(p.Path) || target.Path != p.Path || !p.IsExec() {
			t.Errorf("plugin %q: target %q, path %q: want an absolute program path, the target's", p.Name, p.Target, p.Path)
		}
	} else if p.Path != "" || p.Exec != nil || p.Args != nil || p.Env != nil || p.Checksum != "" || p.IsExec() {
		t.Errorf("plugin %q: target %q of another runtime with exec settings: %+v", p.Name, p.Target, p)
	}
	sums := []string{p.Checksum}
	env := slices.Collect(maps.Keys(p.Env))
	if p.Exec != nil {
		sums = append(sums, p.Exec.SHA256)
		for _, kv := range p.Exec.Env {
			k, _, ok := strings.Cut(kv, "=")
			if !ok {
				k = "=" // no value: as bad as a key with '='
			}
			env = append(env, k)
		}
	}
	for _, sum := range sums {
		if b, err := hex.DecodeString(sum); sum != "" && (err != nil || len(b) != 32) {
			t.Errorf("plugin %q: checksum %q is not 64 hex digits", p.Name, sum)
		}
	}
	for _, v := range p.ProtocolVersions {
		if v <= 0 {
			t.Errorf("plugin %q: protocol version %d", p.Name, v)
		}
	}
	for _, k := range env {
		if k == "" || strings.Contains(k, "=") {
			t.Errorf("plugin %q: environment name %q", p.Name, k)
		}
	}
}
