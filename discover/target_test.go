package discover_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tetherplug/tether/discover"
)

// Manifest entries name targets: a relative path resolved against the
// manifest's directory, exec:///abs/path, and another runtime's target,
// with the exec runtime's settings in their own block.
func TestParseManifestTargets(t *testing.T) {
	sum := strings.Repeat("cd", 32)
	data := `
plugins:
  - name: en
    target: ./bin/greeter-en
    exec:
      args: [--verbose]
      env: [FOO=1, BAR=x=y]
      sha256: "` + sum + `"
      restart: true
  - target: exec:///opt/plugins/greeter-fr
  - target: tcp://plugins.example:7000
    cookie: {key: APP_PLUGIN, value: v}
  - path: old/style
    args: [-x]
`
	got, err := discover.ParseManifest([]byte(data), "/etc/app")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("got %d plugins: %+v", len(got), got)
	}
	en := got[0]
	if en.Name != "en" || en.Target != "/etc/app/bin/greeter-en" || en.Path != "/etc/app/bin/greeter-en" || !en.IsExec() {
		t.Errorf("relative target: %+v", en)
	}
	if en.Exec == nil || !slices.Equal(en.Exec.Args, []string{"--verbose"}) ||
		!slices.Equal(en.Exec.Env, []string{"FOO=1", "BAR=x=y"}) || en.Exec.SHA256 != sum || !en.Exec.Restart {
		t.Errorf("exec settings: %+v", en.Exec)
	}
	fr := got[1]
	if fr.Name != "greeter-fr" || fr.Target != "exec:///opt/plugins/greeter-fr" || fr.Path != "/opt/plugins/greeter-fr" || !fr.IsExec() {
		t.Errorf("exec:// target: %+v", fr)
	}
	tcp := got[2]
	if tcp.Name != "tcp://plugins.example:7000" || tcp.Target != "tcp://plugins.example:7000" || tcp.Path != "" || tcp.IsExec() {
		t.Errorf("tcp target: %+v", tcp)
	}
	old := got[3]
	if old.Name != "style" || old.Target != "/etc/app/old/style" || old.Path != old.Target || !slices.Equal(old.Args, []string{"-x"}) {
		t.Errorf("path entry: %+v", old)
	}
}

// Each mistake in a target entry is an error naming the entry and what is
// wrong with it.
func TestParseManifestTargetErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		yaml string
		want []string
	}{
		"both":              {"plugins:\n  - {name: x, target: ./a, path: ./b}\n", []string{"plugin #1 (x)", "both target", "give one"}},
		"exec on tcp":       {"plugins:\n  - name: net\n    target: tcp://h:7000\n    exec: {args: [-v]}\n", []string{"plugin #1 (net)", "exec", `"tcp://h:7000"`, "not a local program"}},
		"empty exec on tcp": {"plugins:\n  - target: tcp://h:7000\n    exec: {}\n", []string{"plugin #1 (tcp://h:7000)", "exec"}},
		"args on tcp":       {"plugins:\n  - {target: 'unix:///run/p.sock', args: [-v]}\n", []string{"plugin #1 (unix:///run/p.sock)", "args", "not a local program"}},
		"checksum on tcp":   {"plugins:\n  - {target: 'tcp://h:1', checksum: x}\n", []string{"checksum", "not a local program"}},
		"unknown exec key":  {"plugins:\n  - target: ./a\n    exec: {argz: [-v]}\n", []string{"argz"}},
		"relative exec":     {"plugins:\n  - target: exec://rel/path\n", []string{"plugin #1 (exec://rel/path)", "exec:///absolute/path"}},
		"args twice":        {"plugins:\n  - target: ./a\n    args: [-v]\n    exec: {args: [-w]}\n", []string{"plugin #1 (a)", "args is set both"}},
		"checksum twice": {"plugins:\n  - target: ./a\n    checksum: \"" + strings.Repeat("ab", 32) + "\"\n    exec: {sha256: \"" +
			strings.Repeat("ab", 32) + "\"}\n", []string{"checksum is set both"}},
		"bad exec env":     {"plugins:\n  - target: ./a\n    exec: {env: [NOVALUE]}\n", []string{"plugin #1 (a)", `exec.env entry "NOVALUE"`}},
		"bad exec sha256":  {"plugins:\n  - target: ./a\n    exec: {sha256: abcd}\n", []string{"exec.sha256", "not a hex SHA-256"}},
		"no scheme":        {"plugins:\n  - target: '://nowhere'\n", []string{"plugin #1 (://nowhere)"}},
		"duplicate target": {"plugins:\n  - target: tcp://h:1\n  - target: tcp://h:1\n", []string{`name "tcp://h:1" is already used`}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := discover.ParseManifest([]byte(tc.yaml), "/base")
			if err == nil {
				t.Fatalf("accepted:\n%s", tc.yaml)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v, want one mentioning %q", err, w)
				}
			}
		})
	}
}

// Find takes directories, plugin files, manifests and targets together.
// (Not parallel: it changes the working directory.)
func TestFind(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "greeter-en"), 0o755)
	write(t, filepath.Join(dir, "greeter-fr"), 0o755)
	if err := os.Mkdir(filepath.Join(dir, "more"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "more", "greeter-v2"), 0o755)
	manifest := "plugins:\n  - {name: from-manifest, target: ./greeter-fr}\n  - target: tcp://h:7000\n"
	if err := os.WriteFile(filepath.Join(dir, "plugins.yaml"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)

	got, err := discover.Find([]string{"more", "greeter-en", "plugins.yaml", "exec://" + dir + "/greeter-fr", "kube://ns/name"})
	if err != nil {
		t.Fatal(err)
	}
	type row struct{ name, target, path string }
	var rows []row
	for _, p := range got {
		rows = append(rows, row{p.Name, p.Target, p.Path})
	}
	want := []row{
		{"greeter-v2", "more/greeter-v2", "more/greeter-v2"},
		{"greeter-en", "./greeter-en", "./greeter-en"},
		{"from-manifest", "./greeter-fr", "./greeter-fr"},
		{"tcp://h:7000", "tcp://h:7000", ""},
		{"greeter-fr", "exec://" + dir + "/greeter-fr", dir + "/greeter-fr"},
		{"kube://ns/name", "kube://ns/name", ""},
	}
	if !slices.Equal(rows, want) {
		t.Errorf("Find =\n%v\nwant\n%v", rows, want)
	}

	if _, err := discover.Find([]string{"exec://relative"}); err == nil || !strings.Contains(err.Error(), "exec://relative") {
		t.Errorf("Find(exec://relative) = %v, want an error naming it", err)
	}
	if _, err := discover.Find([]string{"missing"}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Find(missing) = %v, want a not-exist error", err)
	}
}
