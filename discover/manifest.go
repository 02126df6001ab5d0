package discover

import (
	"fmt"
	"os"
	"path/filepath"

	"sigs.k8s.io/yaml"
)

// Manifest is a YAML file listing plugins and how to launch each:
//
//	plugins:
//	  - name: greeter-en
//	    path: ./greeter-en            # relative to the manifest's directory
//	    args: [--verbose]
//	    env: {GREETER_LANG: en}
//	    cookie: {key: GREETER_PLUGIN, value: hello}
//	    protocol_versions: [1]
//	    checksum: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
//
// Unknown fields are errors, so that a misspelt field is not silently
// ignored. Quote checksums: YAML reads an unquoted string of digits as a
// number, which then fails the 64-hex-digit check.
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

// ParseManifest parses a manifest. Relative plugin paths are joined to
// baseDir. Every plugin must have a path; names default to the path's file
// name and must be unique.
func ParseManifest(data []byte, baseDir string) ([]Plugin, error) {
	var m Manifest
	if err := yaml.UnmarshalStrict(data, &m); err != nil {
		return nil, err
	}
	seen := map[string]int{}
	for i := range m.Plugins {
		p := &m.Plugins[i]
		if err := p.validate(); err != nil {
			return nil, fmt.Errorf("plugin #%d (%s): %w", i+1, p.Name, err)
		}
		if j, dup := seen[p.Name]; dup {
			return nil, fmt.Errorf("plugin #%d: name %q is already used by plugin #%d", i+1, p.Name, j+1)
		}
		seen[p.Name] = i
		if !filepath.IsAbs(p.Path) {
			p.Path = inDir(baseDir, p.Path)
		}
	}
	return m.Plugins, nil
}
