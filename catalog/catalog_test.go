package catalog_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
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

// TestParallelismBound: Parallelism plugins start at once, and no more.
// Each script marks itself running in a directory the test watches and
// waits there until the test, having seen three running at the same time,
// releases them all; a loader that started plugins one at a time would
// never have three running, and the test fails after its bound.
func TestParallelismBound(t *testing.T) {
	const parallelism, n = 3, 8
	dir, state := t.TempDir(), t.TempDir()
	script := `#!/bin/sh
touch "$STATE/running.$$"
ls "$STATE" | grep -c '^running' > "$STATE/count.$$"
i=0
while [ ! -e "$STATE/release" ] && [ $i -lt 2000 ]; do sleep 0.01; i=$((i+1)); done
rm "$STATE/running.$$"
exit 1
`
	var plugins []discover.Plugin
	for i := range n {
		p := filepath.Join(dir, "p"+strconv.Itoa(i))
		if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		plugins = append(plugins, discover.Plugin{Name: filepath.Base(p), Path: p, Env: map[string]string{"STATE": state}})
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	loaded := make(chan *catalog.Catalog, 1)
	go func() { loaded <- catalog.Load(ctx, plugins, catalog.Config{Parallelism: parallelism}) }()

	most := waitRunning(t, state, parallelism, 15*time.Second)
	if err := os.WriteFile(filepath.Join(state, "release"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cat := tethertest.Recv(t, loaded, time.Minute)
	defer cat.Close()
	if most < parallelism {
		t.Fatalf("at most %d plugins were running at once, want %d (Parallelism)", most, parallelism)
	}
	if most > parallelism {
		t.Errorf("%d plugins were running at once, want at most %d", most, parallelism)
	}
	if b := len(cat.Broken()); b != n {
		t.Fatalf("%d broken, want %d", b, n)
	}
	counts, _ := filepath.Glob(filepath.Join(state, "count.*"))
	if len(counts) != n {
		t.Fatalf("%d scripts ran, want %d", len(counts), n)
	}
	for _, f := range counts {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if c, _ := strconv.Atoi(strings.TrimSpace(string(b))); c < 1 || c > parallelism {
			t.Errorf("a script saw %d running at once, want 1..%d", c, parallelism)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(state, "running.*")); len(left) > 0 {
		t.Errorf("scripts that did not finish: %v", left)
	}
}

// waitRunning watches state until want scripts are running at once or d
// passes, and returns the most it saw running together.
func waitRunning(t *testing.T, state string, want int, d time.Duration) int {
	t.Helper()
	most := 0
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		running, err := filepath.Glob(filepath.Join(state, "running.*"))
		if err != nil {
			t.Fatal(err)
		}
		most = max(most, len(running))
		if most >= want {
			break
		}
	}
	return most
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
