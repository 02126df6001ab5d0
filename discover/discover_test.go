package discover_test

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
	"testing"
	"time"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/discover"
	greeterv1 "github.com/tetherplug/tether/examples/greeter/greeterpb/v1"
	"github.com/tetherplug/tether/tethertest"
)

const greeterEn = "github.com/tetherplug/tether/examples/greeter/plugins/greeter-en"

func TestMain(m *testing.M) { tethertest.Main(m) }

func write(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"), mode); err != nil {
		t.Fatal(err)
	}
}

func names(ps []discover.Plugin) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return out
}

func TestDirFindsExecutableFiles(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "b-plugin"), 0o755)
	write(t, filepath.Join(dir, "a-plugin"), 0o700)
	write(t, filepath.Join(dir, "notes.txt"), 0o644)   // not executable
	write(t, filepath.Join(dir, ".hidden"), 0o755)     // hidden
	write(t, filepath.Join(dir, "c-plugin.po"), 0o755) // matched by a pattern only
	if err := os.Mkdir(filepath.Join(dir, "subdir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a-plugin", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("missing", filepath.Join(dir, "dangling")); err != nil {
		t.Fatal(err)
	}

	got, err := discover.Dir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a-plugin", "b-plugin", "c-plugin.po", "link"}; !slices.Equal(names(got), want) {
		t.Errorf("Dir = %v, want %v", names(got), want)
	}
	if got[0].Path != filepath.Join(dir, "a-plugin") {
		t.Errorf("Path = %q", got[0].Path)
	}

	got, err = discover.Dir(dir, "*.po", "b-*")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"b-plugin", "c-plugin.po"}; !slices.Equal(names(got), want) {
		t.Errorf("Dir with patterns = %v, want %v", names(got), want)
	}
}

func TestDirErrors(t *testing.T) {
	if _, err := discover.Dir(t.TempDir(), "["); !errors.Is(err, filepath.ErrBadPattern) {
		t.Errorf("bad pattern: %v", err)
	}
	if _, err := discover.Dir(filepath.Join(t.TempDir(), "nope")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing dir: %v", err)
	}
}

func TestParseManifest(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	data := `
plugins:
  - name: en
    path: ./greeter-en
    args: [-v, x]
    env: {B: "2", A: "1"}
    cookie: {key: GREETER_PLUGIN, value: hello}
    protocol_versions: [2, 1]
    checksum: ` + sum + `
  - path: /opt/plugins/other
`
	got, err := discover.ParseManifest([]byte(data), "/etc/app")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d plugins", len(got))
	}
	en := got[0]
	if en.Name != "en" || en.Path != "/etc/app/greeter-en" || !slices.Equal(en.Args, []string{"-v", "x"}) ||
		en.Env["A"] != "1" || en.Cookie == nil || en.Cookie.Key != "GREETER_PLUGIN" || en.Cookie.Value != "hello" ||
		!slices.Equal(en.ProtocolVersions, []int{2, 1}) || en.Checksum != sum {
		t.Errorf("first plugin = %+v", en)
	}
	if got[1].Name != "other" || got[1].Path != "/opt/plugins/other" {
		t.Errorf("second plugin = %+v", got[1])
	}
}

func TestParseManifestErrors(t *testing.T) {
	for name, tc := range map[string]struct{ yaml, want string }{
		"unknown field":  {"plugins:\n  - path: x\n    checksun: ab\n", "checksun"},
		"no path":        {"plugins:\n  - name: x\n", "plugin #1 (x): neither target nor path"},
		"bad checksum":   {"plugins:\n  - path: x\n    checksum: xyz\n", "not a hex SHA-256"},
		"short checksum": {"plugins:\n  - path: x\n    checksum: abcd\n", "not a hex SHA-256"},
		"duplicate":      {"plugins:\n  - path: a/x\n  - path: b/x\n", `name "x" is already used`},
		"bad version":    {"plugins:\n  - path: x\n    protocol_versions: [0]\n", "not positive"},
		"bad cookie":     {"plugins:\n  - path: x\n    cookie: {value: v}\n", "cookie key"},
		"not yaml":       {"plugins: [", "yaml"},
		"wrong type":     {"plugins:\n  - path: x\n    args: 3\n", "args"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := discover.ParseManifest([]byte(tc.yaml), ".")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

// A manifest's cookie, checksum and environment reach a real launch.
func TestManifestLaunchesPlugin(t *testing.T) {
	bin := tethertest.Build(t, greeterEn)
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	good := sha256.Sum256(data)
	dir := t.TempDir()
	manifest := filepath.Join(dir, "plugins.yaml")
	content := fmt.Sprintf(`plugins:
  - name: good
    path: %s
    cookie: {key: %s, value: %s}
    checksum: "%s"
  - name: tampered
    path: %s
    cookie: {key: %s, value: %s}
    checksum: "%s"
  - name: no-cookie
    path: %s
`, bin, tether.DefaultMagicCookieKey, tether.DefaultMagicCookieValue, hex.EncodeToString(good[:]),
		bin, tether.DefaultMagicCookieKey, tether.DefaultMagicCookieValue, strings.Repeat("00", 32), bin)
	if err := os.WriteFile(manifest, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	plugins, err := discover.LoadManifest(manifest)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The loader's own cookie is another application's: only entries that
	// name the greeter's cookie load.
	base := tether.HandshakeConfig{MagicCookieKey: "OTHER_APP_PLUGIN", MagicCookieValue: "x"}

	c, err := tether.Launch(ctx, plugins[0].Path, plugins[0].LaunchOptions(base)...)
	if err != nil {
		t.Fatalf("good: %v", err)
	}
	defer c.Close()
	if c.Name() != "good" {
		t.Errorf("Name = %q", c.Name())
	}
	g, _ := tether.Dispense(c, "greeter", greeterv1.NewGreeterClient)
	if r, err := g.Greet(ctx, &greeterv1.GreetRequest{Name: "Ada"}); err != nil || r.GetMessage() != "Hello, Ada!" {
		t.Fatalf("Greet = %v, %v", r, err)
	}

	if _, err := tether.Launch(ctx, plugins[1].Path, plugins[1].LaunchOptions(base)...); !errors.Is(err, tether.ErrChecksumMismatch) {
		t.Errorf("tampered: %v, want ErrChecksumMismatch", err)
	}
	if _, err := tether.Launch(ctx, plugins[2].Path, plugins[2].LaunchOptions(base)...); !errors.Is(err, tether.ErrWrongCookie) {
		t.Errorf("no cookie: %v, want ErrWrongCookie", err)
	}
}

// TestPathsHaveADirectory: plugins found in "." or named without a slash get
// a path with a directory component, which exec never looks up in $PATH.
// (Not parallel: it changes the working directory.)
func TestPathsHaveADirectory(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "greeter-en"), 0o755)
	write(t, filepath.Join(dir, "greeter-fr"), 0o755)
	t.Chdir(dir)

	var all []discover.Plugin
	found, err := discover.Dir(".")
	if err != nil {
		t.Fatal(err)
	}
	all = append(all, found...)
	if found, err = discover.Dirs([]string{"."}); err != nil {
		t.Fatal(err)
	}
	all = append(all, found...)
	if found, err = discover.Paths([]string{".", "greeter-en"}); err != nil {
		t.Fatal(err)
	}
	all = append(all, found...)
	if found, err = discover.ParseManifest([]byte("plugins:\n  - path: greeter-fr\n"), "."); err != nil {
		t.Fatal(err)
	}
	all = append(all, found...)
	if found, err = discover.ParseManifest([]byte("plugins:\n  - path: greeter-fr\n"), ""); err != nil {
		t.Fatal(err)
	}
	all = append(all, found...)
	if len(all) != 9 {
		t.Fatalf("found %d plugins, want 9: %+v", len(all), all)
	}
	for _, p := range all {
		if !strings.Contains(p.Path, "/") {
			t.Errorf("plugin %s has path %q, which has no directory and would be looked up in $PATH", p.Name, p.Path)
		}
		if p.Name != "greeter-en" && p.Name != "greeter-fr" {
			t.Errorf("plugin at %q is named %q, want its file name", p.Path, p.Name)
		}
		if _, err := os.Stat(p.Path); err != nil {
			t.Errorf("plugin %s: %v", p.Name, err)
		}
	}
}
