package daemon

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/network"
	"github.com/tetherplug/tether/supervise"
)

// Manifest is a parsed manifest file: the daemon's settings and the
// plugins it supervises. See docs/supervision.md, section "Manifest".
type Manifest struct {
	// File is the manifest's path, as given.
	File string
	// DataDir is the data directory (absolute); Socket the control
	// socket's path (absolute).
	DataDir, Socket string
	// QuietPeriod is how long reloads must stop coming before the new set
	// is applied; 0 means the supervisor's, supervise.DefaultQuietPeriod.
	QuietPeriod time.Duration
	// Specs are the plugins, in the manifest's order.
	Specs []supervise.Spec

	files []fileCheck // the files the plugins need, checked by Load
	tls   []tlsCheck  // the network entries' TLS files, read by Load
}

// ManifestError is why a manifest was refused: the file, the plugin (its
// name, or its position when it has none) and the field at fault.
type ManifestError struct {
	File   string
	Plugin string // "" for the top level
	Field  string // "" when the error is about no one field
	Err    error
}

func (e *ManifestError) Error() string {
	var b strings.Builder
	b.WriteString("manifest " + e.File)
	if e.Plugin != "" {
		b.WriteString(": plugin " + e.Plugin)
	}
	if e.Field != "" {
		b.WriteString(": field " + e.Field)
	}
	b.WriteString(": " + e.Err.Error())
	return b.String()
}

func (e *ManifestError) Unwrap() error { return e.Err }

// Load reads and parses the manifest at path, and checks the files its
// plugins need: a program (path) that does not exist or is not
// executable, or a TLS file that does not exist, cannot be read or does
// not hold a PEM certificate and its key (cert, key) or a PEM certificate
// (ca), is a *ManifestError naming the plugin, the field and the file.
func Load(path string) (*Manifest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &ManifestError{File: path, Err: err}
	}
	m, err := Parse(path, data)
	if err != nil {
		return nil, err
	}
	if err := m.checkFiles(); err != nil {
		return nil, err
	}
	return m, nil
}

// rawManifest is the manifest's top level as written.
type rawManifest struct {
	DataDir     string            `json:"data_dir"`
	Socket      string            `json:"socket"`
	QuietPeriod *string           `json:"quiet_period"`
	Plugins     []json.RawMessage `json:"plugins"`
}

// rawPlugin is one entry of plugins as written.
type rawPlugin struct {
	Name       string           `json:"name"`
	Path       string           `json:"path"`
	Target     string           `json:"target"`
	Args       []string         `json:"args"`
	Env        json.RawMessage  `json:"env"`
	Interfaces map[string][]int `json:"interfaces"`
	Restart    string           `json:"restart"`
	// Optional numbers and durations are pointers: omitted (nil) is the
	// default, and a given 0 that would mean the default is refused.
	Backoff struct {
		Initial    *string  `json:"initial"`
		Max        *string  `json:"max"`
		Multiplier *float64 `json:"multiplier"`
		Jitter     *float64 `json:"jitter"`
		ResetAfter *string  `json:"reset_after"`
	} `json:"backoff"`
	Budget struct {
		Restarts *int    `json:"restarts"`
		Within   *string `json:"within"`
	} `json:"budget"`
	Health struct {
		Interval *string `json:"interval"`
		Timeout  *string `json:"timeout"`
	} `json:"health"`
	Outlive      bool    `json:"outlive"`
	AutoMTLS     bool    `json:"auto_mtls"`
	StartTimeout *string `json:"start_timeout"`
	TLS          *rawTLS `json:"tls"`
	Insecure     bool    `json:"insecure"`
}

// rawTLS is a network entry's tls as written.
type rawTLS struct {
	Cert string `json:"cert"`
	Key  string `json:"key"`
	CA   string `json:"ca"`
}

// Parse parses a manifest's contents; file names it in errors, and
// relative paths in it are taken relative to file's directory.
func Parse(file string, data []byte) (*Manifest, error) {
	fail := func(plugin, field string, err error) error {
		return &ManifestError{File: file, Plugin: plugin, Field: field, Err: err}
	}
	if err := checkKeys(data); err != nil {
		err.(*ManifestError).File = file
		return nil, err
	}
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fail("", "", fmt.Errorf("not YAML: %w", err))
	}
	var raw rawManifest
	if err := strictJSON(js, &raw); err != nil {
		return nil, fail("", jsonField(err), plainJSON(err))
	}
	dir, err := filepath.Abs(filepath.Dir(file))
	if err != nil {
		return nil, fail("", "", err)
	}
	m := &Manifest{File: file}
	if m.DataDir, err = dataDir(dir, raw.DataDir); err != nil {
		return nil, fail("", "data_dir", err)
	}
	m.Socket = filepath.Join(m.DataDir, "control.sock")
	if raw.Socket != "" {
		m.Socket = abs(dir, raw.Socket)
	}
	if m.QuietPeriod, err = positive(raw.QuietPeriod, supervise.DefaultQuietPeriod.String()); err != nil {
		return nil, fail("", "quiet_period", err)
	}
	seen := map[string]bool{}
	for i, p := range raw.Plugins {
		sp, needs, err := parsePlugin(dir, i, p)
		if err != nil {
			var me *ManifestError
			if errors.As(err, &me) {
				me.File = file
			}
			return nil, err
		}
		if seen[sp.Name] {
			return nil, fail(fmt.Sprintf("%q", sp.Name), "name", errors.New("named twice"))
		}
		seen[sp.Name] = true
		m.Specs = append(m.Specs, sp)
		m.files = append(m.files, needs.files...)
		if needs.tls != nil {
			m.tls = append(m.tls, *needs.tls)
		}
	}
	return m, nil
}

// strictJSON decodes one JSON value into v, refusing unknown fields.
func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("more than one document")
	}
	return nil
}

var unknownField = regexp.MustCompile(`unknown field "([^"]*)"`)

// jsonField is the field a decoding error is about, "" if it does not say.
func jsonField(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return te.Field
	}
	if m := unknownField.FindStringSubmatch(err.Error()); m != nil {
		return m[1]
	}
	return ""
}

// plainJSON rewords a decoding error without Go's names for the fields.
func plainJSON(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("want a %s value, got a %s", te.Type, te.Value)
	}
	if m := unknownField.FindStringSubmatch(err.Error()); m != nil {
		return fmt.Errorf("unknown field %q", m[1])
	}
	return err
}

// dataDir is the data directory: given (relative to dir), else
// DefaultDataDir().
func dataDir(dir, given string) (string, error) {
	if given != "" {
		return abs(dir, given), nil
	}
	return DefaultDataDir()
}

func abs(dir, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(dir, p)
}

var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// needs are what Load checks of one entry: its files, and its TLS files'
// contents.
type needs struct {
	files []fileCheck
	tls   *tlsCheck
}

// parsePlugin parses the i-th entry of plugins.
func parsePlugin(dir string, i int, data json.RawMessage) (supervise.Spec, needs, error) {
	var named struct {
		Name any `json:"name"`
	}
	who := fmt.Sprintf("#%d", i+1)
	if json.Unmarshal(data, &named) == nil {
		if s, ok := named.Name.(string); ok && s != "" {
			who = fmt.Sprintf("%q", s)
		}
	}
	fail := func(field string, err error) (supervise.Spec, needs, error) {
		return supervise.Spec{}, needs{}, &ManifestError{Plugin: who, Field: field, Err: err}
	}
	var p rawPlugin
	if err := strictJSON(data, &p); err != nil {
		return fail(jsonField(err), plainJSON(err))
	}
	if !validName.MatchString(p.Name) {
		return fail("name", fmt.Errorf("%q: want 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit", p.Name))
	}
	sp := supervise.Spec{Name: p.Name, Args: p.Args, Restart: supervise.Policy(p.Restart),
		OutliveHost: p.Outlive, AutoMTLS: p.AutoMTLS}
	scheme := "exec" // the target's, parsed once
	switch {
	case p.Path != "" && p.Target != "":
		return fail("path", errors.New("give path (a local program) or target (a network plugin), not both"))
	case p.Path != "":
		if strings.Contains(p.Path, "://") {
			return fail("path", fmt.Errorf("%q is a target: use target for network plugins", p.Path))
		}
		sp.Target = abs(dir, p.Path)
	case p.Target != "":
		t, err := tether.ParseTarget(p.Target)
		if err != nil {
			return fail("target", err)
		}
		if t.Scheme == "exec" {
			return fail("target", fmt.Errorf("%q is a local program: use path", p.Target))
		}
		sp.Target, scheme = p.Target, t.Scheme
	default:
		return fail("path", errors.New("missing: give path (a local program) or target (a network plugin)"))
	}
	switch sp.Restart {
	case "", supervise.Always, supervise.OnFailure, supervise.Never:
	default:
		return fail("restart", fmt.Errorf("%q: want always, on-failure or never", p.Restart))
	}
	var err error
	if sp.Env, err = parseEnv(p.Env); err != nil {
		return fail("env", err)
	}
	if sp.Interfaces, err = interfaces(p.Interfaces); err != nil {
		return fail("interfaces", err)
	}
	if err := p.durations(&sp); err != nil {
		return fail(err.field, err.err)
	}
	if err := p.numbers(&sp); err != nil {
		return fail(err.field, err.err)
	}
	if err := p.network(dir, scheme, &sp); err != nil {
		return fail(err.field, err.err)
	}
	if err := runtimeRegistered(scheme); err != nil {
		return fail("target", err)
	}
	return sp, needs{files: p.files(who, sp.Target, dir), tls: p.tlsCheckOf(who, dir)}, nil
}

// fieldErr is an error about one field of a plugin.
type fieldErr struct {
	field string
	err   error
}

// durations parses the plugin's duration fields into sp.
func (p *rawPlugin) durations(sp *supervise.Spec) *fieldErr {
	b, def, h := supervise.DefaultBackoff, supervise.DefaultBudget, supervise.DefaultHealth
	for _, d := range []struct {
		field string
		in    *string
		out   *time.Duration
		def   string
	}{
		{"backoff.initial", p.Backoff.Initial, &sp.Backoff.Initial, b.Initial.String()},
		{"backoff.max", p.Backoff.Max, &sp.Backoff.Max, b.Max.String()},
		{"backoff.reset_after", p.Backoff.ResetAfter, &sp.Backoff.ResetAfter, b.ResetAfter.String()},
		{"budget.within", p.Budget.Within, &sp.Budget.Within, def.Within.String()},
		{"health.interval", p.Health.Interval, &sp.Health.Interval, h.Interval.String()},
		{"health.timeout", p.Health.Timeout, &sp.Health.Timeout, h.Timeout.String()},
		{"start_timeout", p.StartTimeout, &sp.StartTimeout, "tether's start timeout"},
	} {
		v, err := positive(d.in, d.def)
		if err != nil {
			return &fieldErr{d.field, err}
		}
		*d.out = v
	}
	return nil
}

// numbers checks and copies the plugin's numeric fields into sp.
func (p *rawPlugin) numbers(sp *supervise.Spec) *fieldErr {
	b := p.Backoff
	switch {
	case b.Multiplier != nil && *b.Multiplier < 1:
		return &fieldErr{"backoff.multiplier", fmt.Errorf("%v: want 1 or more", *b.Multiplier)}
	case b.Jitter != nil && *b.Jitter == 0:
		return &fieldErr{"backoff.jitter", zero("0", fmt.Sprint(supervise.DefaultBackoff.Jitter), "more than 0")}
	case b.Jitter != nil && (*b.Jitter < 0 || *b.Jitter >= 1):
		return &fieldErr{"backoff.jitter", fmt.Errorf("%v: want 0 < jitter < 1", *b.Jitter)}
	case p.Budget.Restarts != nil && *p.Budget.Restarts == 0:
		return &fieldErr{"budget.restarts", zero("0", fmt.Sprint(supervise.DefaultBudget.Restarts),
			"1 or more (restart: never for no restarts)")}
	case p.Budget.Restarts != nil && *p.Budget.Restarts < 0:
		return &fieldErr{"budget.restarts", fmt.Errorf("%d: want 1 or more", *p.Budget.Restarts)}
	}
	// The supervisor's defaults fill what is not given; check the result.
	initial, most := or(sp.Backoff.Initial, supervise.DefaultBackoff.Initial), or(sp.Backoff.Max, supervise.DefaultBackoff.Max)
	if most < initial {
		return &fieldErr{"backoff.max", fmt.Errorf("%v is less than backoff.initial %v", most, initial)}
	}
	interval, timeout := or(sp.Health.Interval, supervise.DefaultHealth.Interval), or(sp.Health.Timeout, supervise.DefaultHealth.Timeout)
	if timeout < interval {
		return &fieldErr{"health.timeout", fmt.Errorf("%v is less than health.interval %v", timeout, interval)}
	}
	sp.Backoff.Multiplier, sp.Backoff.Jitter, sp.Budget.Restarts = deref(b.Multiplier), deref(b.Jitter), deref(p.Budget.Restarts)
	return nil
}

// network checks the fields of network targets (sp.Target, of scheme) and
// adds their options.
func (p *rawPlugin) network(dir, scheme string, sp *supervise.Spec) *fieldErr {
	local := p.Path != ""
	switch {
	case local && p.TLS != nil:
		return &fieldErr{"tls", errors.New("is for network targets; a local program uses auto_mtls")}
	case local && p.Insecure:
		return &fieldErr{"insecure", errors.New("is for network targets")}
	case !local && (len(p.Args) > 0 || len(p.Env) > 0 && string(p.Env) != "null"):
		return &fieldErr{"args", errors.New("args and env are for local programs (path), not network targets")}
	case !local && (p.AutoMTLS || p.Outlive):
		return &fieldErr{"auto_mtls", errors.New("auto_mtls and outlive are for local programs (path), not network targets")}
	case p.TLS != nil && p.Insecure:
		return &fieldErr{"insecure", errors.New("contradicts tls: give one")}
	case p.TLS != nil && !networkScheme(scheme):
		return &fieldErr{"tls", fmt.Errorf("is for tcp://, unix:// and dns:/// targets, not %s", sp.Target)}
	case p.Insecure && !networkScheme(scheme):
		return &fieldErr{"insecure", fmt.Errorf("is for tcp://, unix:// and dns:/// targets, not %s", sp.Target)}
	case p.TLS != nil:
		if missing := p.TLS.missing(); len(missing) > 0 {
			return &fieldErr{"tls", fmt.Errorf("%s missing: %s", andList(missing), tlsFields)}
		}
	case !local && !p.Insecure && needsTLS(scheme):
		return &fieldErr{"tls", fmt.Errorf("%s is reached over the network and requires TLS: give %s, or insecure: true to connect in plaintext",
			sp.Target, tlsFields)}
	}
	if p.TLS != nil {
		cert, key, ca := p.tlsFiles(dir)
		sp.Options = append(sp.Options, network.WithTLSFiles(cert, key, ca))
	}
	if p.Insecure {
		sp.Options = append(sp.Options, network.WithInsecure())
	}
	return nil
}

// parseEnv reads env: a map of names to values, or a list of NAME=VALUE.
func parseEnv(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		for _, kv := range list {
			if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
				return nil, fmt.Errorf("%q: want NAME=VALUE", kv)
			}
		}
		return list, nil
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, errors.New("want a map of names to values or a list of NAME=VALUE strings")
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if k == "" || strings.Contains(k, "=") {
			return nil, fmt.Errorf("name %q: want a name without '='", k)
		}
		switch v := m[k].(type) {
		case string:
			list = append(list, k+"="+v)
		case float64, bool:
			list = append(list, fmt.Sprintf("%s=%v", k, v))
		default:
			return nil, fmt.Errorf("%s: want a string, number or boolean value", k)
		}
	}
	return list, nil
}

// interfaces turns interfaces' map into wants, sorted by name.
func interfaces(m map[string][]int) ([]tether.Want, error) {
	var ws []tether.Want
	for _, name := range slices.Sorted(maps.Keys(m)) {
		if name == "" {
			return nil, errors.New("an interface with no name")
		}
		for _, v := range m[name] {
			if v < 1 {
				return nil, fmt.Errorf("%s: version %d: want versions of 1 or more", name, v)
			}
		}
		ws = append(ws, tether.Want{Interface: name, Versions: m[name]})
	}
	return ws, nil
}

func or(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// runtimeRegistered refuses a target scheme no runtime in this program
// serves: every start would fail with tether.ErrBadTarget.
func runtimeRegistered(scheme string) error {
	if known := tether.Runtimes(); !slices.Contains(known, scheme) {
		return fmt.Errorf("no runtime is registered for scheme %q in this program (registered: %s)", scheme, strings.Join(known, ", "))
	}
	return nil
}
