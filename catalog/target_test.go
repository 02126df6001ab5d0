package catalog_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/catalog"
	"github.com/tetherplug/tether/discover"
	greeterv1 "github.com/tetherplug/tether/examples/greeter/greeterpb/v1"
	"github.com/tetherplug/tether/tethertest"
)

// fakeRuntime serves the "catalogtest" scheme: it records the runtime
// settings it was given and refuses to load, so that a test sees that Load
// reached it through tether.Open.
type fakeRuntime struct{ settings atomic.Int64 }

func (*fakeRuntime) Scheme() string { return "catalogtest" }

func (f *fakeRuntime) Build(_ context.Context, t tether.Target, env tether.RuntimeEnv) (tether.Runtime, error) {
	var cfg catalogConfig
	tether.ApplyRuntimeOptions(env, &cfg)
	f.settings.Store(int64(cfg.n))
	return nil, fmt.Errorf("fake runtime reached for %s", t.Authority)
}

var fake = &fakeRuntime{}

// catalogConfig is the fake runtime's configuration: how many of its
// options it was given.
type catalogConfig struct{ n int }

func init() { tether.RegisterRuntime(fake) }

// A manifest of exec:///abs/path targets loads through the catalog, with
// each entry's exec settings (a wrong sha256 keeps its entry from running);
// an entry whose scheme has no runtime gets its own error naming it, and
// the others load.
func TestLoadManifestTargets(t *testing.T) {
	bin := tethertest.Build(t, greeterEn)
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	good := sha256.Sum256(data)
	manifest := filepath.Join(t.TempDir(), "plugins.yaml")
	content := fmt.Sprintf(`plugins:
  - name: checked
    target: exec://%[1]s
    exec: {sha256: "%[2]s", args: [--unused], env: [GREETER_TEST=1]}
  - name: tampered
    target: exec://%[1]s
    exec: {sha256: "%[3]s"}
  - name: nowhere
    target: nosuchscheme://host:7000
  - name: plain
    target: exec://%[1]s
`, bin, hex.EncodeToString(good[:]), strings.Repeat("00", 32))
	if err := os.WriteFile(manifest, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	plugins, err := discover.LoadManifest(manifest)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cat := catalog.Load(ctx, plugins, catalog.Config{Handshake: greeterHandshake,
		SchemeOptions: map[string][]tether.Option{"exec": {tether.WithEnv("FROM_CONFIG=1")}}})
	defer cat.Close()

	if got := entryNames(cat.Loaded()); !slices.Equal(got, []string{"checked", "plain"}) {
		t.Fatalf("loaded %v, want [checked plain] (broken: %v)", got, cat.Err())
	}
	es := cat.Entries()
	if !errors.Is(es[1].Err, tether.ErrChecksumMismatch) {
		t.Errorf("tampered: %v, want ErrChecksumMismatch", es[1].Err)
	}
	if err := es[2].Err; !errors.Is(err, tether.ErrBadTarget) || !strings.Contains(err.Error(), "plugin nowhere") ||
		!strings.Contains(err.Error(), "nosuchscheme://host:7000") || !strings.Contains(err.Error(), `no runtime is registered for scheme "nosuchscheme"`) {
		t.Errorf("nowhere: %v, want ErrBadTarget naming the plugin, its target and the scheme", err)
	}
	for _, name := range []string{"checked", "plain"} {
		c, _ := cat.Get(name)
		g, _ := tether.Dispense(c, "greeter", greeterv1.NewGreeterClient)
		if r, err := g.Greet(ctx, &greeterv1.GreetRequest{Name: "Ada"}); err != nil || r.GetMessage() != "Hello, Ada!" {
			t.Errorf("%s: Greet = %v, %v", name, r, err)
		}
		if c.Name() != name {
			t.Errorf("Name() = %q, want %q", c.Name(), name)
		}
	}
	closeAndCheckGone(t, cat)
}

// Config.SchemeOptions["exec"] reach exec targets only: a target of another runtime
// is loaded through that runtime (which here refuses), not refused for an
// exec option it was never meant to get.
func TestExecOptionsOnlyForExecTargets(t *testing.T) {
	plugins := []discover.Plugin{{Name: "remote", Target: "catalogtest://somewhere"}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fake.settings.Store(-1)
	cat := catalog.Load(ctx, plugins, catalog.Config{Handshake: greeterHandshake,
		SchemeOptions: map[string][]tether.Option{"exec": {tether.WithEnv("A=1"), tether.WithAutoMTLS()}}})
	defer cat.Close()
	err := cat.Entries()[0].Err
	if err == nil || !strings.Contains(err.Error(), "fake runtime reached for somewhere") || !strings.Contains(err.Error(), "plugin remote") {
		t.Fatalf("remote: %v, want the fake runtime's own error, naming the plugin", err)
	}
	if n := fake.settings.Load(); n != 0 {
		t.Errorf("the runtime got %d settings, want none", n)
	}
}

// Config.SchemeOptions reach the targets of their scheme only: a runtime
// setting of the fake runtime's scheme gets to it, and a local program
// beside it loads without being refused that setting.
func TestSchemeOptionsOnlyForTheirScheme(t *testing.T) {
	plugins := []discover.Plugin{{Name: "remote", Target: "catalogtest://somewhere"},
		{Name: "local", Path: tethertest.Build(t, greeterEn)}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fake.settings.Store(-1)
	cat := catalog.Load(ctx, plugins, catalog.Config{Handshake: greeterHandshake,
		SchemeOptions: map[string][]tether.Option{"catalogtest": {tether.RuntimeOption("test.Setting", func(c *catalogConfig) { c.n++ }, "catalogtest")}}})
	if err := cat.Entries()[0].Err; err == nil || !strings.Contains(err.Error(), "fake runtime reached for somewhere") {
		t.Errorf("remote: %v, want the fake runtime's own error", err)
	}
	if n := fake.settings.Load(); n != 1 {
		t.Errorf("the runtime got %d settings, want 1", n)
	}
	if err := cat.Entries()[1].Err; err != nil {
		t.Errorf("local: %v", err)
	}
	closeAndCheckGone(t, cat)
}
