package tether_test

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetherplug/tether"
)

// fakeBuilder is the runtime of scheme "fake": it records the settings of
// each Build and fails it, so Open returns its error.
type fakeBuilder struct {
	mu       sync.Mutex
	settings [][]int // of each Build
}

// fakeConfig is the fake runtime's own configuration, set by its options.
type fakeConfig struct{ values []int }

// withFake is an option of the fake runtime only.
func withFake(v int) tether.Option {
	return tether.RuntimeOption("WithFake", func(c *fakeConfig) { c.values = append(c.values, v) }, "fake")
}

var errFake = &tether.PluginError{Plugin: "fake", Kind: tether.ErrNotPlugin, Detail: "the fake runtime runs nothing"}

var fakeRuntime = &fakeBuilder{}

func init() { tether.RegisterRuntime(fakeRuntime) }

func (*fakeBuilder) Scheme() string { return "fake" }

func (f *fakeBuilder) Build(_ context.Context, _ tether.Target, env tether.RuntimeEnv) (tether.Runtime, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var cfg fakeConfig
	tether.ApplyRuntimeOptions(env, &cfg)
	f.settings = append(f.settings, cfg.values)
	return nil, errFake
}

// builds returns the settings of the Builds since the last call.
func (f *fakeBuilder) builds() [][]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	b := f.settings
	f.settings = nil
	return b
}

// TestOpenRefusesExecOptionsForOtherRuntimes: an exec-only option given
// for a target of another runtime fails Open before the runtime is built,
// with a *PluginError naming the option; options for every runtime and
// the runtime's own settings reach it.
func TestOpenRefusesExecOptionsForOtherRuntimes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	fakeRuntime.builds()
	for name, opt := range map[string]tether.Option{
		"WithArgs": tether.WithArgs("-v"), "WithEnv": tether.WithEnv("A=1"),
		"WithChecksum": tether.WithChecksum(make([]byte, 32)), "WithAutoMTLS": tether.WithAutoMTLS(),
		"WithOutliveHost": tether.WithOutliveHost(), "WithRestart": tether.WithRestart(),
		"WithStderr": tether.WithStderr(io.Discard), "WithStdout": tether.WithStdout(io.Discard),
		"WithKillTimeout": tether.WithKillTimeout(time.Second), "WithSpool": tether.WithSpool(t.TempDir()),
	} {
		_, err := tether.Open(ctx, "fake:///p", tether.WithName("p"), opt)
		var pe *tether.PluginError
		if err == nil || !strings.Contains(err.Error(), name) || !errors.As(err, &pe) || !errors.Is(err, tether.ErrBadTarget) {
			t.Errorf("Open(fake:///p, %s): %v, want a *PluginError naming %s", name, err, name)
		}
		if b := fakeRuntime.builds(); len(b) != 0 {
			t.Errorf("Open(fake:///p, %s) built the runtime before refusing the option", name)
		}
	}
	_, err := tether.Open(ctx, "fake:///p", tether.WithName("p"), tether.WithStartTimeout(time.Second),
		tether.WithHandshake(tether.HandshakeConfig{ProtocolVersion: 1}), withFake(42), withFake(7))
	if !errors.Is(err, errFake) {
		t.Errorf("Open(fake:///p) with options for every runtime: %v, want the runtime's own error", err)
	}
	if b := fakeRuntime.builds(); len(b) != 1 || !slices.Equal(b[0], []int{42, 7}) {
		t.Errorf("the runtime was built with settings %v, want once with [42 7], in the order given", b)
	}
	_, err = tether.Open(ctx, "/nonexistent/plugin", withFake(42))
	if err == nil || !strings.Contains(err.Error(), "WithFake") {
		t.Errorf("Open(/nonexistent/plugin, WithFake): %v, want an error naming WithFake", err)
	}
}

// TestOpenUnknownScheme: a target whose scheme no runtime serves fails
// Open with a *PluginError naming the scheme and listing those registered.
func TestOpenUnknownScheme(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := tether.Open(ctx, "nosuch:///p")
	if err == nil {
		t.Fatal("Open(nosuch:///p) succeeded")
	}
	var pe *tether.PluginError
	if !errors.As(err, &pe) || !errors.Is(err, tether.ErrBadTarget) {
		t.Errorf("Open(nosuch:///p): %T, want a *PluginError of kind ErrBadTarget, as Open's doc promises", err)
	}
	if !strings.Contains(err.Error(), `"nosuch"`) {
		t.Errorf("Open(nosuch:///p): %v, want the scheme named", err)
	}
	for _, s := range []string{"exec", "fake"} {
		if !slices.Contains(tether.Runtimes(), s) || !strings.Contains(err.Error(), s) {
			t.Errorf("Open(nosuch:///p): %v, want the registered scheme %q listed (Runtimes: %v)", err, s, tether.Runtimes())
		}
	}
}

// TestOpenBadTarget: a target that does not parse fails Open with a
// *PluginError of kind ErrBadTarget saying why.
func TestOpenBadTarget(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for target, why := range map[string]string{"": "empty", "exec://host/p": "exec:///absolute/path", "fake://%zz/p": "invalid URL escape"} {
		_, err := tether.Open(ctx, target)
		var pe *tether.PluginError
		if !errors.As(err, &pe) || !errors.Is(err, tether.ErrBadTarget) || !strings.Contains(err.Error(), why) {
			t.Errorf("Open(%q): %v, want a *PluginError of kind ErrBadTarget saying %q", target, err, why)
		}
	}
}
