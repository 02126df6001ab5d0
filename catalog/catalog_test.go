package catalog_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/catalog"
	"github.com/tetherplug/tether/discover"
	greeterv2 "github.com/tetherplug/tether/examples/greeter/greeterpb/v2"
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
func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

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

// No more than Parallelism plugins start at once. Each script notes how
// many scripts are running when it starts, then fails its handshake.
func TestParallelismBound(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	script := `#!/bin/sh
touch "$STATE/running.$$"
ls "$STATE" | grep -c '^running' > "$STATE/count.$$"
sleep 0.2
rm "$STATE/running.$$"
exit 1
`
	var plugins []discover.Plugin
	for i := range 8 {
		p := filepath.Join(dir, "p"+strconv.Itoa(i))
		if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		plugins = append(plugins, discover.Plugin{Name: filepath.Base(p), Path: p, Env: map[string]string{"STATE": state}})
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cat := catalog.Load(ctx, plugins, catalog.Config{Parallelism: 3})
	defer cat.Close()
	if n := len(cat.Broken()); n != 8 {
		t.Fatalf("%d broken, want 8", n)
	}
	counts, _ := filepath.Glob(filepath.Join(state, "count.*"))
	if len(counts) != 8 {
		t.Fatalf("%d scripts ran, want 8", len(counts))
	}
	for _, f := range counts {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := strconv.Atoi(strings.TrimSpace(string(b))); n < 1 || n > 3 {
			t.Errorf("a script saw %d running at once, want 1..3", n)
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
