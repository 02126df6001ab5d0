package discover

import (
	"fmt"
	"os"
	"path/filepath"

	"sigs.k8s.io/yaml"
)

// Manifest is a YAML file listing plugins, where each runs and how to load
// it:
//
//	plugins:
//	  - name: greeter-en
//	    target: ./greeter-en          # relative to the manifest's directory
//	    exec:                         # settings of the exec runtime only
//	      args: [--verbose]
//	      env: [GREETER_LANG=en]
//	      sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
//	      restart: true
//	    cookie: {key: GREETER_PLUGIN, value: hello}
//	    protocol_versions: [1]
//	  - target: exec:///opt/plugins/greeter-fr
//	  - path: ./greeter-v2            # path: the exec shorthand for target
//
// An entry gives target (any runtime's) or path, not both. The exec block,
// and the older top-level args, env (a map) and checksum, are refused on a
// target that is not a local program. Unknown fields are errors, so that a
// misspelt field is not silently ignored. Quote checksums: YAML reads an
// unquoted string of digits as a number, which then fails the
// 64-hex-digit check.
type Manifest struct {
	Plugins []Plugin `json:"plugins"`
}

// LoadManifest reads and checks the manifest at path. Relative plugin paths
// are made relative to the manifest's directory.
func LoadManifest(path string) ([]Plugin, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("discover: %w", err)
	}
	plugins, err := ParseManifest(data, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("discover: manifest %s: %w", path, err)
	}
	return plugins, nil
}

// ParseManifest parses a manifest. Relative plugin paths (given as path or
// as target) are joined to baseDir. Every plugin must have a target or a
// path; names default to the program's file name (to the target, for other
// runtimes) and must be unique. Errors name the entry.
func ParseManifest(data []byte, baseDir string) ([]Plugin, error) {
	var m Manifest
	if err := yaml.UnmarshalStrict(data, &m); err != nil {
		return nil, err
	}
	seen := map[string]int{}
	for i := range m.Plugins {
		p := &m.Plugins[i]
		if err := p.resolve(baseDir); err != nil {
			return nil, fmt.Errorf("plugin #%d (%s): %w", i+1, entryName(p), err)
		}
		if j, dup := seen[p.Name]; dup {
			return nil, fmt.Errorf("plugin #%d: name %q is already used by plugin #%d", i+1, p.Name, j+1)
		}
		seen[p.Name] = i
	}
	return m.Plugins, nil
}

// entryName is how an error names an entry: its name, or else what it
// points at.
func entryName(p *Plugin) string {
	for _, s := range []string{p.Name, p.Target, p.Path} {
		if s != "" {
			return s
		}
	}
	return "no name"
}
