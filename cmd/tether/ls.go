package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/catalog"
	"github.com/tetherplug/tether/discover"
	"github.com/tetherplug/tether/internal/execruntime"
)

func init() { register(newLsCmd) }

// lsFlags are the options of tether ls.
type lsFlags struct {
	manifests    []string
	manifestOnly bool
	patterns     []string
	cookies      []string
	versions     []int
	autoMTLS     bool
	asJSON       bool
	strict       bool
	parallel     int
	timeout      time.Duration
	verbose      bool
	tls          tlsFlags
}

func newLsCmd() *cobra.Command {
	f := &lsFlags{}
	cmd := &cobra.Command{
		Use:   "ls [DIR|FILE|MANIFEST|TARGET...] [--manifest FILE]",
		Short: "List the plugins in directories, manifests or targets, with their interfaces and versions",
		Long: `ls loads every plugin found (executable files in each DIR, each plugin FILE
named, entries of each MANIFEST, each TARGET), a few at a time, asks each which
interfaces and versions it serves, stops it, and prints one line per plugin:
its name, its interfaces with versions, and "ok", or the error that kept it
from loading.

To find out, ls runs every executable file in each DIR, whatever it is: a
program there that is not a plugin runs too (and is listed as an error). With
--manifest-only, ls runs no file of a DIR: it reads the manifests in each DIR
instead and lists the plugins they describe.

A MANIFEST is a file named *.yaml, *.yml or *.json without an execute bit (or
any file given with --manifest). A TARGET has a scheme: exec:///abs/path, or a
target of another registered runtime; a plugin whose scheme has no runtime is
listed with that error.

Plugins refuse to start without their application's magic cookie: pass it
with --cookie KEY=VALUE (repeat the flag for folders mixing applications).
The TLS flags (--tls-cert, --tls-key, --tls-ca, --tls-server-name, --insecure)
apply to every network target (tcp://, unix://, dns:///) listed, as in tether
inspect --help.

The exit status is 0 even when some plugins are broken, unless --strict.`,
		Example: `  tether ls ./bin/plugins
  tether ls plugins.yaml exec:///opt/app/plugins/greeter-en ./bin/plugins/greeter-fr
  tether ls --cookie MYAPP_PLUGIN=secret /usr/lib/myapp/plugins
  tether ls --manifest plugins.yaml --json
  tether ls ./bin/plugins tcp://10.0.0.7:7000 --tls-cert host-1.crt --tls-key host-1.key --tls-ca ca.crt`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLs(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), args, f)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&f.manifests, "manifest", nil, "a YAML manifest of plugins (repeatable)")
	fl.BoolVar(&f.manifestOnly, "manifest-only", false, "in each DIR, list only the plugins its manifests (*.yaml, *.yml, *.json without an execute bit) describe, and run no other file")
	fl.StringArrayVar(&f.patterns, "pattern", nil, "only files in DIR matching this glob (repeatable; default *)")
	fl.StringArrayVar(&f.cookies, "cookie", nil, "magic cookie KEY=VALUE to offer (repeatable)")
	fl.IntSliceVar(&f.versions, "protocol-version", nil, "application protocol version(s) to offer (default 1)")
	fl.BoolVar(&f.autoMTLS, "auto-mtls", execruntime.DefaultAutoMTLS,
		"connect with automatic mutual TLS (on by default on Windows, where plugins listen on loopback TCP: --auto-mtls=false turns it off)")
	fl.BoolVar(&f.asJSON, "json", false, "print a JSON array instead of lines")
	fl.BoolVar(&f.strict, "strict", false, "exit with status 1 when any plugin is broken")
	fl.IntVar(&f.parallel, "parallel", 0, "plugins started at once (default 4 per CPU)")
	fl.DurationVar(&f.timeout, "timeout", 10*time.Second, "how long each plugin may take to start")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "show what the plugins log")
	f.tls.add(cmd)
	return cmd
}

// lsEntry is one line of the listing, and one element of its JSON form.
type lsEntry struct {
	Name       string           `json:"name"`
	Target     string           `json:"target"`
	Path       string           `json:"path,omitempty"` // local programs only
	Status     string           `json:"status"`         // "ok" or "error"
	Interfaces map[string][]int `json:"interfaces,omitempty"`
	Protocol   int              `json:"protocol_version,omitempty"`
	// Described is false for plugins that do not serve tether's Describe
	// (go-plugin plugins): their interfaces are unknown.
	Described bool   `json:"described"`
	Error     string `json:"error,omitempty"`
}

func runLs(ctx context.Context, stdout, stderr io.Writer, args []string, f *lsFlags) error {
	if len(args) == 0 && len(f.manifests) == 0 {
		return errors.New("ls: name at least one directory, file, manifest or target, or --manifest FILE")
	}
	if f.manifestOnly {
		var err error
		if args, err = manifestsInDirs(args); err != nil {
			return err
		}
	}
	plugins, err := discover.Find(args, f.patterns...)
	if err != nil {
		return err
	}
	for _, m := range f.manifests {
		found, err := discover.LoadManifest(m)
		if err != nil {
			return err
		}
		plugins = append(plugins, found...)
	}
	cfg, err := lsConfig(f, stderr)
	if err != nil {
		return err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	cat := catalog.Load(ctx, plugins, cfg)
	entries := lsEntries(cat)
	closeErr := cat.Close()

	if f.asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(entries); err != nil {
			return err
		}
	} else if err := lsPrint(stdout, entries); err != nil {
		return err
	}
	if closeErr != nil {
		fmt.Fprintln(stderr, "tether ls: stopping plugins:", closeErr)
	}
	if broken := len(cat.Broken()); f.strict && broken > 0 {
		return fmt.Errorf("ls: %d of %d plugins are broken", broken, len(entries))
	}
	return nil
}

// lsConfig turns the flags into a catalog configuration. The first cookie is
// the handshake's; the others go into every local program's environment, so
// that plugins of several applications load in one listing.
func lsConfig(f *lsFlags, stderr io.Writer) (catalog.Config, error) {
	var h tether.HandshakeConfig
	var env []string
	for i, c := range f.cookies {
		k, v, ok := strings.Cut(c, "=")
		if !ok || k == "" {
			return catalog.Config{}, fmt.Errorf("ls: --cookie %q is not KEY=VALUE", c)
		}
		if i == 0 {
			h.MagicCookieKey, h.MagicCookieValue = k, v
		} else {
			env = append(env, c)
		}
	}
	level := slog.Level(100) // nothing
	if f.verbose {
		level = slog.LevelDebug
	}
	opts := []tether.Option{
		tether.WithLogger(slog.New(flagNamingHandler{slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})})),
		tether.WithStartTimeout(f.timeout),
	}
	execOpts := []tether.Option{tether.WithEnv(env...), tether.WithStdout(io.Discard)}
	for _, v := range f.versions {
		if v <= 0 {
			return catalog.Config{}, fmt.Errorf("ls: --protocol-version %d is not positive", v)
		}
	}
	if len(f.versions) > 0 {
		opts = append(opts, tether.WithProtocolVersions(f.versions...))
	}
	execOpts = append(execOpts, autoMTLSOption(f.autoMTLS))
	netOpts, err := f.tls.schemeOptions()
	if err != nil {
		return catalog.Config{}, fmt.Errorf("ls: %w", err)
	}
	if len(execOpts) > 0 {
		if netOpts == nil {
			netOpts = map[string][]tether.Option{}
		}
		netOpts["exec"] = execOpts
	}
	return catalog.Config{Handshake: h, Options: opts, SchemeOptions: netOpts,
		Parallelism: f.parallel}, nil
}

func lsEntries(cat *catalog.Catalog) []lsEntry {
	var out []lsEntry
	for _, e := range cat.Entries() {
		le := lsEntry{Name: e.Plugin.Name, Target: e.Plugin.Target, Path: e.Plugin.Path, Status: "ok"}
		if le.Target == "" {
			le.Target = le.Path
		}
		if e.Err != nil {
			le.Status, le.Error = "error", lsError(e.Err)
		} else {
			le.Interfaces = e.Client.Served()
			le.Protocol = e.Client.ProtocolVersion()
			le.Described = e.Client.Described()
		}
		out = append(out, le)
	}
	return out
}

// lsPrint writes one aligned line per plugin: name, interfaces, status.
func lsPrint(w io.Writer, entries []lsEntry) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	for _, e := range entries {
		ifaces, status := lsInterfaces(e.Interfaces), "ok"
		switch {
		case e.Status == "error":
			ifaces, status = "-", "error: "+e.Error
		case !e.Described:
			ifaces, status = "?", "ok (no Describe: interfaces unknown; protocol "+strconv.Itoa(e.Protocol)+")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", e.Name, ifaces, status)
	}
	return tw.Flush()
}

// lsInterfaces formats {"greeter": [1 2], "counter": [1]} as
// "counter v1, greeter v1 v2".
func lsInterfaces(m map[string][]int) string {
	if len(m) == 0 {
		return "-"
	}
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(m)) {
		s := name
		for _, v := range m[name] {
			s += " v" + strconv.Itoa(v)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// lsError is a broken plugin's error on one line. A refused cookie is
// said shortly, naming the variable when a tether plugin named it.
func lsError(err error) string {
	var pe *tether.PluginError
	if errors.As(err, &pe) && errors.Is(err, tether.ErrWrongCookie) {
		key := "KEY"
		if m := lsCookieKey.FindStringSubmatch(pe.Output); m != nil {
			key = m[1]
		}
		return fmt.Sprintf("plugin %s: %v: it refused the cookie offered; pass --cookie %s=VALUE", pe.Plugin, tether.ErrWrongCookie, key)
	}
	return oneLine(nameFlags(err).Error())
}

// lsCookieKey finds the variable a tether plugin says its cookie is in.
var lsCookieKey = regexp.MustCompile(`environment variable (\S+) is missing or wrong`)

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
