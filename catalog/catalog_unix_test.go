//go:build unix

package catalog_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tetherplug/tether/catalog"
	"github.com/tetherplug/tether/discover"
	"github.com/tetherplug/tether/tethertest"
)

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
