package discover_test

import (
	"encoding/hex"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/discover"
)

// FuzzParseManifest: any input either fails with an error or yields plugins
// that satisfy the manifest's rules (a path, made absolute against the base
// directory; a unique name; a 64-hex-digit checksum if any; positive
// protocol versions; environment names without '=') — never a panic.
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
			if !filepath.IsAbs(p.Path) {
				t.Errorf("plugin %q: path %q is not absolute", p.Name, p.Path)
			}
			if p.Name == "" || names[p.Name] {
				t.Errorf("plugin name %q is empty or repeated", p.Name)
			}
			names[p.Name] = true
			if p.Checksum != "" {
				if b, err := hex.DecodeString(p.Checksum); err != nil || len(b) != 32 {
					t.Errorf("plugin %q: checksum %q is not 64 hex digits", p.Name, p.Checksum)
				}
			}
			for _, v := range p.ProtocolVersions {
				if v <= 0 {
					t.Errorf("plugin %q: protocol version %d", p.Name, v)
				}
			}
			for k := range p.Env {
				if k == "" || strings.Contains(k, "=") {
					t.Errorf("plugin %q: environment name %q", p.Name, k)
				}
			}
			_ = p.LaunchOptions(tether.HandshakeConfig{})
		}
	})
}
