// Package catalog loads many plugins at once and answers which of them
// implement an interface at a version.
//
// Load loads every plugin it is given, wherever its target says it runs
// (through tether.Open), at most Config.Parallelism at a time. A plugin
// that fails to load is kept in the catalog with its own error and does not
// stop the others:
//
//	found, _ := discover.Dir("./plugins")
//	cat := catalog.Load(ctx, found, catalog.Config{Handshake: hs})
//	defer cat.Close()
//	for _, e := range cat.Broken() {
//		log.Printf("%s: %v", e.Plugin.Name, e.Err)
//	}
//	for _, e := range cat.Implementing("greeter", 2) {
//		g, _ := tether.Dispense(e.Client, "greeter", greeterv2.NewGreeterClient)
//		...
//	}
package catalog

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/discover"
)

// Config says how a catalog loads its plugins. The zero value works.
type Config struct {
	// Handshake is the host application's handshake. A plugin's own cookie
	// or protocol versions (from a manifest) replace its parts.
	Handshake tether.HandshakeConfig
	// Options apply to every plugin, before the plugin's own (logger,
	// interfaces asked for, timeouts...). Options of one runtime only
	// (tether.WithEnv and the other exec options) belong in SchemeOptions.
	Options []tether.Option
	// SchemeOptions apply to the plugins whose target has the key's scheme
	// only, after Options and before the plugin's own: under "exec" (local
	// programs, a path or an exec:// target) tether.WithEnv, WithAutoMTLS...;
	// under "tcp", "dns"... a network runtime's TLS options.
	SchemeOptions map[string][]tether.Option
	// Parallelism bounds how many plugins start at once. Zero means four
	// per CPU.
	Parallelism int
}

func (c Config) parallelism() int {
	if c.Parallelism > 0 {
		return c.Parallelism
	}
	return 4 * runtime.GOMAXPROCS(0)
}

// Entry is one plugin of a catalog: what was found, and either the loaded
// client or why it did not load.
type Entry struct {
	Plugin discover.Plugin
	// Client is the loaded plugin, nil when Err is set.
	Client *tether.Client
	// Err is why the plugin did not load: usually a *tether.PluginError or
	// *tether.VersionError.
	Err error
}

// Catalog is a set of plugins loaded together.
type Catalog struct {
	entries []*Entry

	closeOnce sync.Once
	closeErr  error
}

// Load loads every plugin concurrently, at most cfg.Parallelism at a time,
// and waits for all of them. Each loads from its Target with tether.Open
// (from its Path with tether.Launch when Target is empty), with the exec
// settings of its manifest entry for exec targets only. Load never fails as
// a whole: each plugin's failure is in its Entry, and an entry whose target
// no runtime serves fails alone. A plugin whose name was already used by an
// earlier one is not loaded. Once ctx is done, plugins not yet started fail
// with ctx's error.
func Load(ctx context.Context, plugins []discover.Plugin, cfg Config) *Catalog {
	cat := &Catalog{entries: make([]*Entry, len(plugins))}
	seen := map[string]bool{}
	var g errgroup.Group
	g.SetLimit(cfg.parallelism())
	for i, p := range plugins {
		e := &Entry{Plugin: p}
		cat.entries[i] = e
		if seen[p.Name] {
			e.Err = fmt.Errorf("plugin %s: another plugin in the catalog has this name (%s)", p.Name, where(p))
			continue
		}
		seen[p.Name] = true
		g.Go(func() error {
			if err := ctx.Err(); err != nil {
				e.Err = fmt.Errorf("plugin %s: not started: %w", p.Name, err)
				return nil
			}
			e.Client, e.Err = load(ctx, p, cfg)
			return nil
		})
	}
	_ = g.Wait() // the functions report through their entries
	return cat
}

// load loads one plugin. Errors that do not already name it (an unknown
// scheme, an option its runtime refuses) are made to name it and its
// target.
func load(ctx context.Context, p discover.Plugin, cfg Config) (*tether.Client, error) {
	opts := slices.Clone(cfg.Options)
	scheme := "exec"
	if t, err := tether.ParseTarget(p.Target); p.Target != "" && err == nil {
		scheme = t.Scheme
	}
	opts = append(opts, cfg.SchemeOptions[scheme]...)
	opts = append(opts, p.Options(cfg.Handshake)...)
	var c *tether.Client
	var err error
	if p.Target == "" {
		c, err = tether.Launch(ctx, p.Path, opts...)
	} else {
		c, err = tether.Open(ctx, p.Target, opts...)
	}
	return c, nameIn(err, p)
}

// nameIn makes a load's error name the plugin: an error of a bad target
// names the target (the plugin's name is not known yet when it is
// refused), so it gets the name and keeps the target in its detail; other
// errors that are not typed are wrapped.
func nameIn(err error, p discover.Plugin) error {
	var pe *tether.PluginError
	var ve *tether.VersionError
	switch {
	case err == nil || errors.As(err, &ve):
		return err
	case errors.As(err, &pe) && pe.Plugin == p.Name:
		return err
	case errors.As(err, &pe) && errors.Is(err, tether.ErrBadTarget):
		cp := *pe
		cp.Plugin, cp.Detail = p.Name, "target "+where(p)+": "+pe.Detail
		return &cp
	}
	return fmt.Errorf("plugin %s: target %s: %w", p.Name, where(p), err)
}

// where is a plugin's target, or its path when it has none.
func where(p discover.Plugin) string {
	if p.Target != "" {
		return p.Target
	}
	return p.Path
}

// Entries returns every plugin in the order Load was given them.
func (c *Catalog) Entries() []*Entry { return slices.Clone(c.entries) }

// Loaded returns the plugins that loaded.
func (c *Catalog) Loaded() []*Entry { return c.filter(func(e *Entry) bool { return e.Err == nil }) }

// Broken returns the plugins that did not load, each with its error.
func (c *Catalog) Broken() []*Entry { return c.filter(func(e *Entry) bool { return e.Err != nil }) }

// Err joins the errors of the broken plugins; it is nil when all loaded.
func (c *Catalog) Err() error {
	var errs []error
	for _, e := range c.Broken() {
		errs = append(errs, e.Err)
	}
	return errors.Join(errs...)
}

// Get returns the loaded plugin with the given name.
func (c *Catalog) Get(name string) (*tether.Client, bool) {
	for _, e := range c.entries {
		if e.Plugin.Name == name && e.Err == nil {
			return e.Client, true
		}
	}
	return nil, false
}

// Implementing returns the loaded plugins that serve version v of
// interface iface, in catalog order.
func (c *Catalog) Implementing(iface string, v int) []*Entry {
	return c.filter(func(e *Entry) bool { return e.Err == nil && e.Client.Serves(iface, v) })
}

func (c *Catalog) filter(keep func(*Entry) bool) []*Entry {
	var out []*Entry
	for _, e := range c.entries {
		if keep(e) {
			out = append(out, e)
		}
	}
	return out
}

// Close stops every loaded plugin, all at once, and waits for them. It
// returns the errors joined, and is safe to call more than once.
func (c *Catalog) Close() error {
	c.closeOnce.Do(func() {
		loaded := c.Loaded()
		errs := make([]error, len(loaded))
		var wg sync.WaitGroup
		for i, e := range loaded {
			wg.Go(func() { errs[i] = e.Client.Close() })
		}
		wg.Wait()
		c.closeErr = errors.Join(errs...)
	})
	return c.closeErr
}
