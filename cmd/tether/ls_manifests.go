package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// manifestsInDirs is ls --manifest-only's arguments: each directory
// replaced by the manifests in it (files named *.yaml, *.yml or *.json
// without an execute bit), so that none of its programs runs unless a
// manifest names it. A directory without a manifest is an error.
func manifestsInDirs(args []string) ([]string, error) {
	var out []string
	for _, arg := range args {
		fi, err := os.Stat(arg)
		if strings.Contains(arg, "://") || err != nil || !fi.IsDir() {
			out = append(out, arg)
			continue
		}
		entries, err := os.ReadDir(arg)
		if err != nil {
			return nil, fmt.Errorf("ls: %w", err)
		}
		var found []string
		for _, e := range entries {
			if !slices.Contains([]string{".yaml", ".yml", ".json"}, strings.ToLower(filepath.Ext(e.Name()))) {
				continue
			}
			path := filepath.Join(arg, e.Name())
			if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 == 0 {
				found = append(found, path)
			}
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("ls --manifest-only: %s has no manifest (a *.yaml, *.yml or *.json file without an execute bit)", arg)
		}
		out = append(out, found...)
	}
	return out, nil
}
