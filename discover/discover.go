// Package discover finds plugins: executable files in directories, matched
// by glob patterns, and entries of a YAML manifest that say how to launch
// each one. It only finds; package catalog loads what it finds.
package discover

import (
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tetherplug/tether"
)

// Plugin is one plugin found: where its program is and how to launch it.
// Only Name and Path are set for plugins found in a directory; a manifest
// may set the rest.
type Plugin struct {
	// Name identifies the plugin in logs, errors and listings; it defaults
	// to the file name of Path.
	Name string `json:"name,omitempty"`
	// Path is the program. In a manifest a relative path is relative to the
	// manifest's directory. A path that discover returns always has a
	// directory component ("./greeter-en", never "greeter-en"), so that it
	// is never mistaken for the name of a program to look up in $PATH.
	Path string `json:"path"`
	// Args are the program's command-line arguments.
	Args []string `json:"args,omitempty"`
	// Env adds variables to the program's environment.
	Env map[string]string `json:"env,omitempty"`
	// Cookie is the magic cookie the plugin expects, when it differs from
	// the loader's.
	Cookie *Cookie `json:"cookie,omitempty"`
	// ProtocolVersions are the application protocol versions to offer,
	// when they differ from the loader's.
	ProtocolVersions []int `json:"protocol_versions,omitempty"`
	// Checksum is the SHA-256 of the program, in hex; the program is not
	// run when it does not match.
	Checksum string `json:"checksum,omitempty"`
}

// Cookie is a magic cookie: the environment variable a plugin checks and
// the value it expects.
type Cookie struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// LaunchOptions returns the tether.Launch options that launch p. base is the
// loader's handshake; p's cookie and protocol versions, when set, replace
// its parts. The options come after any the caller passes for every plugin,
// so they win.
func (p Plugin) LaunchOptions(base tether.HandshakeConfig) []tether.Option {
	h := base
	if p.Cookie != nil {
		h.MagicCookieKey, h.MagicCookieValue = p.Cookie.Key, p.Cookie.Value
	}
	opts := []tether.Option{tether.WithHandshake(h), tether.WithName(p.Name)}
	if len(p.ProtocolVersions) > 0 {
		opts = append(opts, tether.WithProtocolVersions(p.ProtocolVersions...))
	}
	if len(p.Args) > 0 {
		opts = append(opts, tether.WithArgs(p.Args...))
	}
	if len(p.Env) > 0 {
		keys := make([]string, 0, len(p.Env))
		for k := range p.Env {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		env := make([]string, len(keys))
		for i, k := range keys {
			env[i] = k + "=" + p.Env[k]
		}
		opts = append(opts, tether.WithEnv(env...))
	}
	if p.Checksum != "" {
		sum, _ := hex.DecodeString(p.Checksum) // checked by validate
		opts = append(opts, tether.WithChecksum(sum))
	}
	return opts
}

// validate checks a plugin's fields and fills in its name.
func (p *Plugin) validate() error {
	if p.Path == "" {
		return fmt.Errorf("path is empty")
	}
	if p.Name == "" {
		p.Name = filepath.Base(p.Path)
	}
	if p.Cookie != nil && (p.Cookie.Key == "" || strings.Contains(p.Cookie.Key, "=")) {
		return fmt.Errorf("cookie key %q is empty or contains '='", p.Cookie.Key)
	}
	for _, v := range p.ProtocolVersions {
		if v <= 0 {
			return fmt.Errorf("protocol version %d is not positive", v)
		}
	}
	for k := range p.Env {
		if k == "" || strings.Contains(k, "=") {
			return fmt.Errorf("environment variable name %q is empty or contains '='", k)
		}
	}
	if p.Checksum != "" {
		sum, err := hex.DecodeString(p.Checksum)
		if err != nil || len(sum) != 32 {
			return fmt.Errorf("checksum %q is not a hex SHA-256 (64 hex digits)", p.Checksum)
		}
	}
	return nil
}

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
		found = append(found, Plugin{Name: name, Path: path})
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
			all = append(all, Plugin{Name: filepath.Base(p), Path: inDir("", p)})
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
