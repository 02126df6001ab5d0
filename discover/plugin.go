package discover

import (
	"encoding/hex"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tetherplug/tether"
)

// execScheme is the scheme of the exec runtime: local programs.
const execScheme = "exec"

// Plugin is one plugin found: where it runs and how to load it. Only Name,
// Target and Path are set for plugins found in a directory; a manifest may
// set the rest.
type Plugin struct {
	// Name identifies the plugin in logs, errors and listings; it defaults
	// to the file name of a local program, or to the target.
	Name string `json:"name,omitempty"`
	// Target says where the plugin runs, as tether.Open takes it: a path or
	// exec:///abs/path for a local program, or a target of another runtime
	// (tcp://host:7000...). A manifest entry gives target or path, not
	// both; every plugin discover returns has Target set (to the resolved
	// path, for an entry that gave a path or a relative target).
	Target string `json:"target,omitempty"`
	// Path is the local program, for exec targets; empty for others. In a
	// manifest, path is the exec shorthand for target, and a relative path
	// is relative to the manifest's directory. A path that discover returns
	// always has a directory component ("./greeter-en", never
	// "greeter-en"), so that it is never mistaken for the name of a program
	// to look up in $PATH.
	Path string `json:"path,omitempty"`
	// Exec holds the settings of the exec runtime (the manifest's exec:
	// block); it is an error on a target of another runtime.
	Exec *ExecSettings `json:"exec,omitempty"`
	// Cookie is the magic cookie the plugin expects, when it differs from
	// the loader's.
	Cookie *Cookie `json:"cookie,omitempty"`
	// ProtocolVersions are the application protocol versions to offer,
	// when they differ from the loader's.
	ProtocolVersions []int `json:"protocol_versions,omitempty"`

	// Args, Env and Checksum are the older spellings of Exec.Args,
	// Exec.Env and Exec.SHA256, kept for existing manifests and callers;
	// exec targets only, and not together with their Exec counterparts.

	// Args are the program's command-line arguments.
	Args []string `json:"args,omitempty"`
	// Env adds variables to the program's environment.
	Env map[string]string `json:"env,omitempty"`
	// Checksum is the SHA-256 of the program, in hex; the program is not
	// run when it does not match.
	Checksum string `json:"checksum,omitempty"`
}

// ExecSettings are the settings of the exec runtime for one plugin: how
// its program is run.
type ExecSettings struct {
	// Args are the program's command-line arguments (tether.WithArgs).
	Args []string `json:"args,omitempty"`
	// Env adds KEY=VALUE entries to the program's environment
	// (tether.WithEnv).
	Env []string `json:"env,omitempty"`
	// SHA256 is the program's SHA-256 in hex; a program that does not match
	// is not run (tether.WithChecksum).
	SHA256 string `json:"sha256,omitempty"`
	// Restart starts the program again whenever it exits while the host
	// uses it (tether.WithRestart).
	Restart bool `json:"restart,omitempty"`
}

// Cookie is a magic cookie: the environment variable a plugin checks and
// the value it expects.
type Cookie struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// IsExec reports whether p runs as a local program (a path or an exec://
// target), the only kind of target exec settings apply to.
func (p Plugin) IsExec() bool {
	if p.Target == "" {
		return true // Path alone: the exec shorthand
	}
	t, err := tether.ParseTarget(p.Target)
	return err == nil && t.Scheme == execScheme
}

// Options returns the tether.Open options that load p. base is the
// loader's handshake; p's cookie and protocol versions, when set, replace
// its parts. Exec settings become exec options (WithArgs, WithEnv,
// WithChecksum, WithRestart) for exec targets only. The options come after
// any the caller passes for every plugin, so they win.
func (p Plugin) Options(base tether.HandshakeConfig) []tether.Option {
	h := base
	if p.Cookie != nil {
		h.MagicCookieKey, h.MagicCookieValue = p.Cookie.Key, p.Cookie.Value
	}
	opts := []tether.Option{tether.WithHandshake(h), tether.WithName(p.Name)}
	if len(p.ProtocolVersions) > 0 {
		opts = append(opts, tether.WithProtocolVersions(p.ProtocolVersions...))
	}
	if !p.IsExec() {
		return opts
	}
	return append(opts, p.execSettings().options()...)
}

// LaunchOptions is Options under its older name.
func (p Plugin) LaunchOptions(base tether.HandshakeConfig) []tether.Option { return p.Options(base) }

// execSettings merges the Exec block with the older top-level fields.
func (p Plugin) execSettings() ExecSettings {
	var s ExecSettings
	if p.Exec != nil {
		s = *p.Exec
	}
	if len(s.Args) == 0 {
		s.Args = p.Args
	}
	if len(s.Env) == 0 {
		for _, k := range slices.Sorted(maps.Keys(p.Env)) {
			s.Env = append(s.Env, k+"="+p.Env[k])
		}
	}
	if s.SHA256 == "" {
		s.SHA256 = p.Checksum
	}
	return s
}

func (s ExecSettings) options() []tether.Option {
	var opts []tether.Option
	if len(s.Args) > 0 {
		opts = append(opts, tether.WithArgs(s.Args...))
	}
	if len(s.Env) > 0 {
		opts = append(opts, tether.WithEnv(s.Env...))
	}
	if s.SHA256 != "" {
		sum, _ := hex.DecodeString(s.SHA256) // checked by validate
		opts = append(opts, tether.WithChecksum(sum))
	}
	if s.Restart {
		opts = append(opts, tether.WithRestart())
	}
	return opts
}

// resolve checks a manifest entry's fields, sets Target and Path from
// whichever was given (relative paths joined to baseDir) and fills in its
// name.
func (p *Plugin) resolve(baseDir string) error {
	var path string
	switch {
	case p.Target != "" && p.Path != "":
		return fmt.Errorf("both target %q and path %q are set; give one", p.Target, p.Path)
	case p.Path != "":
		path = p.Path // the exec shorthand: a path, even if it contains "://"
	case p.Target == "":
		return fmt.Errorf("neither target nor path is set")
	default:
		t, err := tether.ParseTarget(p.Target)
		if err != nil {
			return err
		}
		if t.Scheme != execScheme {
			if err := p.noExecSettings(); err != nil {
				return err
			}
			if p.Name == "" {
				p.Name = p.Target
			}
			return p.validate()
		}
		path = t.Path
	}
	if filepath.IsAbs(path) {
		p.Path = path
		if p.Target == "" {
			p.Target = path
		}
	} else {
		p.Path = inDir(baseDir, path)
		p.Target = p.Path
	}
	if p.Name == "" {
		p.Name = filepath.Base(p.Path)
	}
	return p.validate()
}

// noExecSettings refuses exec settings on a target of another runtime.
func (p *Plugin) noExecSettings() error {
	var given []string
	if p.Exec != nil {
		given = append(given, "exec")
	}
	if p.Args != nil {
		given = append(given, "args")
	}
	if p.Env != nil {
		given = append(given, "env")
	}
	if p.Checksum != "" {
		given = append(given, "checksum")
	}
	if len(given) > 0 {
		return fmt.Errorf("%s: settings of the exec runtime, but target %q is not a local program",
			strings.Join(given, ", "), p.Target)
	}
	return nil
}

// validate checks the fields that do not depend on the target.
func (p *Plugin) validate() error {
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
	if err := checkSum("checksum", p.Checksum); err != nil {
		return err
	}
	if p.Exec == nil {
		return nil
	}
	for _, both := range []struct {
		name string
		old  bool
		new  bool
	}{
		{"args", p.Args != nil, p.Exec.Args != nil},
		{"env", p.Env != nil, p.Exec.Env != nil},
		{"checksum", p.Checksum != "", p.Exec.SHA256 != ""},
	} {
		if both.old && both.new {
			return fmt.Errorf("%s is set both at the top level and in the exec block; give it once", both.name)
		}
	}
	for _, kv := range p.Exec.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return fmt.Errorf("exec.env entry %q is not KEY=VALUE", kv)
		}
	}
	return checkSum("exec.sha256", p.Exec.SHA256)
}

func checkSum(field, sum string) error {
	if sum == "" {
		return nil
	}
	if b, err := hex.DecodeString(sum); err != nil || len(b) != 32 {
		return fmt.Errorf("%s %q is not a hex SHA-256 (64 hex digits)", field, sum)
	}
	return nil
}
