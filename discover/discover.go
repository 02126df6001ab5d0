// Package discover finds plugins: executable files in directories, matched
// by glob patterns, and entries of a YAML manifest that say where each one
// runs (a target: a local program, or another runtime's address) and with
// which settings. It only finds; package catalog loads what it finds.
package discover

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/tetherplug/tether"
)

// Dir finds the plugins in dir: the executable regular files (symbolic
// links followed) whose names match any of patterns (filepath.Match syntax;
// none means "*"), sorted by name. Hidden files, directories and files
// without an execute bit are skipped. Dir does not descend into
// subdirectories.
func Dir(dir string, patterns ...string) ([]Plugin, error) {
	if len(patterns) == 0 {
		patterns = []string{"*"}
	}
	for _, p := range patterns {
		if _, err := filepath.Match(p, ""); err != nil {
			return nil, fmt.Errorf("discover: pattern %q: %w", p, err)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("discover: %w", err)
	}
	var found []Plugin
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") || !matchAny(patterns, name) {
			continue
		}
		path := inDir(dir, name)
		if !isExecutable(path) {
			continue
		}
		found = append(found, Plugin{Name: name, Target: path, Path: path})
	}
	return found, nil
}

// Dirs runs Dir on each directory and joins the results. Two plugins with
// the same file name in different directories keep their names; a catalog
// reports the second as a duplicate.
func Dirs(dirs []string, patterns ...string) ([]Plugin, error) {
	var all []Plugin
	for _, d := range dirs {
		found, err := Dir(d, patterns...)
		if err != nil {
			return nil, err
		}
		all = append(all, found...)
	}
	return all, nil
}

// Paths is Dirs for a mix of directories and files: a directory is searched
// as Dir does, a file is taken as a plugin whatever its name or mode (so
// that a file named on purpose and not executable is reported, not skipped).
func Paths(paths []string, patterns ...string) ([]Plugin, error) {
	var all []Plugin
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("discover: %w", err)
		}
		if !fi.IsDir() {
			path := inDir("", p)
			all = append(all, Plugin{Name: filepath.Base(p), Target: path, Path: path})
			continue
		}
		found, err := Dir(p, patterns...)
		if err != nil {
			return nil, err
		}
		all = append(all, found...)
	}
	return all, nil
}

// Find is Paths for command lines that also name manifests and targets.
// Each argument is one of:
//   - a target with a scheme (exec:///abs/path, tcp://host:7000...), taken
//     as one plugin, named after its program for exec targets and after the
//     target otherwise; whether its scheme has a runtime is for the loader
//     to say;
//   - a directory, searched as Dir does, with patterns;
//   - a manifest: a file whose name ends in .yaml, .yml or .json and that
//     has no execute bit, read as LoadManifest does;
//   - any other file, taken as a plugin as Paths does.
func Find(args []string, patterns ...string) ([]Plugin, error) {
	var all []Plugin
	for _, arg := range args {
		t, err := tether.ParseTarget(arg)
		if err != nil {
			return nil, fmt.Errorf("discover: %w", err)
		}
		var found []Plugin
		switch {
		case t.Scheme == execScheme && t.Path != arg: // exec:///abs/path
			found = []Plugin{{Name: filepath.Base(t.Path), Target: arg, Path: t.Path}}
		case t.Scheme != execScheme:
			found = []Plugin{{Name: arg, Target: arg}}
		case isManifest(arg):
			found, err = LoadManifest(arg)
		default:
			found, err = Paths([]string{arg}, patterns...)
		}
		if err != nil {
			return nil, err
		}
		all = append(all, found...)
	}
	return all, nil
}

// isManifest reports whether path is a regular file without an execute bit
// whose name says it is YAML or JSON.
func isManifest(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml", ".json":
	default:
		return false
	}
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 == 0
}

// inDir joins dir and path like filepath.Join, keeping a directory
// component: a result without a separator, which exec would look up in
// $PATH, gets "./" before it.
func inDir(dir, path string) string {
	joined := filepath.Join(dir, path)
	if !strings.ContainsRune(joined, filepath.Separator) {
		joined = "." + string(filepath.Separator) + joined
	}
	return joined
}

func matchAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if ok, _ := filepath.Match(p, name); ok {
			return true
		}
	}
	return false
}

// isExecutable reports whether path is (or links to) a regular file with an
// execute bit set.
func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}
