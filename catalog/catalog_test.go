package catalog_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/catalog"
	"github.com/tetherplug/tether/discover"
	greeterv2 "github.com/tetherplug/tether/examples/greeter/greeterpb/v2"
	"github.com/tetherplug/tether/internal/plugintest"
	"github.com/tetherplug/tether/tethertest"
)

const (
	greeterEn = "github.com/tetherplug/tether/examples/greeter/plugins/greeter-en"
	greeterV2 = "github.com/tetherplug/tether/examples/greeter/plugins/greeter-v2"
	multi     = "github.com/tetherplug/tether/examples/multi/plugin"
)

// greeterHandshake is the example greeter application's handshake
// (tether's default cookie, protocol 1).
var greeterHandshake = tether.HandshakeConfig{ProtocolVersion: 1}

func TestMain(m *testing.M) { tethertest.Main(m) }

// pluginDir links the example plugins into a fresh directory, plus a shell
// script that prints garbage instead of a handshake.
func pluginDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for name, pkg := range map[string]string{"greeter-en": greeterEn, "greeter-v2": greeterV2, "greeter-counter": multi} {
		if err := os.Symlink(tethertest.Build(t, pkg), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	script := "#!/bin/sh\necho 'this is not a handshake'\nexit 0\n"
	if err := os.WriteFile(filepath.Join(dir, "garbage.sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func entryNames(es []*catalog.Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Plugin.Name)
	}
	return out
}

// alive reports whether a process exists.
func alive(pid int) bool { return !plugintest.Reaped(pid) }

// closeAndCheckGone closes the catalog and checks that no plugin process it
// loaded is left.
func closeAndCheckGone(t *testing.T, cat *catalog.Catalog) {
	t.Helper()
	var pids []int
	for _, e := range cat.Loaded() {
		pids = append(pids, e.Client.Pid())
	}
	if err := cat.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("plugin process %d still alive after Close", pid)
		}
	}
}

func TestLoadDirectory(t *testing.T) {
	found, err := discover.Dir(pluginDir(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cat := catalog.Load(ctx, found, catalog.Config{Handshake: greeterHandshake, Parallelism: 2})
	defer cat.Close()

	if got, want := entryNames(cat.Loaded()), []string{"greeter-counter", "greeter-en", "greeter-v2"}; !slices.Equal(got, want) {
		t.Fatalf("loaded %v, want %v (broken: %v)", got, want, cat.Err())
	}
	broken := cat.Broken()
	if len(broken) != 1 || broken[0].Plugin.Name != "garbage.sh" {
		t.Fatalf("broken = %v, want garbage.sh", entryNames(broken))
	}
	if err := broken[0].Err; !errors.Is(err, tether.ErrNotPlugin) || !strings.Contains(err.Error(), "this is not a handshake") {
		t.Errorf("garbage.sh: %v; want ErrNotPlugin quoting what it printed", err)
	}
	if !errors.Is(cat.Err(), tether.ErrNotPlugin) {
		t.Errorf("Err() = %v", cat.Err())
	}

	for _, tc := range []struct {
		iface string
		v     int
		want  []string
	}{
		{"greeter", 1, []string{"greeter-counter", "greeter-en", "greeter-v2"}},
		{"greeter", 2, []string{"greeter-v2"}},
		{"counter", 1, []string{"greeter-counter"}},
		{"greeter", 3, nil},
	} {
		if got := entryNames(cat.Implementing(tc.iface, tc.v)); !slices.Equal(got, tc.want) {
			t.Errorf("Implementing(%s, %d) = %v, want %v", tc.iface, tc.v, got, tc.want)
		}
	}
	// A plugin found through the catalog answers calls.
	c, ok := cat.Get("greeter-v2")
	if !ok {
		t.Fatal("Get(greeter-v2) found nothing")
	}
	g, _ := tether.Dispense(c, "greeter", greeterv2.NewGreeterClient)
	if r, err := g.Farewell(ctx, &greeterv2.FarewellRequest{Name: "Ada"}); err != nil || r.GetMessage() != "¡Adiós, Ada!" {
		t.Fatalf("Farewell = %v, %v", r, err)
	}

	closeAndCheckGone(t, cat)
	if err := cat.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// Interfaces asked for apply to every plugin: one without a shared version
// is broken with a *VersionError, the others load.
func TestLoadVersionMismatchIsPerPlugin(t *testing.T) {
	found, err := discover.Dir(pluginDir(t), "greeter-*")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cat := catalog.Load(ctx, found, catalog.Config{Handshake: greeterHandshake,
		Options: []tether.Option{tether.WithInterface("greeter", 2)}})
	defer cat.Close()
	if got := entryNames(cat.Loaded()); !slices.Equal(got, []string{"greeter-v2"}) {
		t.Fatalf("loaded %v, want [greeter-v2]", got)
	}
	for _, e := range cat.Broken() {
		var ve *tether.VersionError
		if !errors.As(e.Err, &ve) || ve.Interface != "greeter" {
			t.Errorf("%s: %v, want a greeter *VersionError", e.Plugin.Name, e.Err)
		}
	}
}

func TestDuplicateNamesAndCanceledContext(t *testing.T) {
	bin := tethertest.Build(t, greeterEn)
	plugins := []discover.Plugin{{Name: "a", Path: bin}, {Name: "a", Path: bin}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cat := catalog.Load(ctx, plugins, catalog.Config{Handshake: greeterHandshake})
	defer cat.Close()
	es := cat.Entries()
	if !errors.Is(es[0].Err, context.Canceled) {
		t.Errorf("first: %v, want context.Canceled", es[0].Err)
	}
	if es[1].Err == nil || !strings.Contains(es[1].Err.Error(), "another plugin") {
		t.Errorf("second: %v, want a duplicate-name error", es[1].Err)
	}
}
