//go:build unix

package main

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tetherplug/tether/internal/doctest"
	"github.com/tetherplug/tether/internal/plugintest"
	"github.com/tetherplug/tether/tethertest"
)

// docsCLI is the doc whose examples TestDocsCLI runs.
const docsCLI = "../../docs/cli.md"

// Every example of docs/cli.md runs and prints what the doc shows (rules
// in internal/doctest's package doc). Each block is a subtest named after
// its first command: go test -run 'TestDocsCLI/inspect'. A block runs in a
// fresh directory set up as a user's (docSession): tether on PATH, the
// plugins the doc names, a private HOME, XDG directories and TMPDIR, and
// 127.0.0.1:7000 and 127.0.0.1:9090 replaced by free ports. Blocks marked
// not run are skipped and counted, and so are those marked to run on the
// test cluster (test/kubecluster's TestDocsCLI runs them); nothing else
// may skip.
func TestDocsCLI(t *testing.T) {
	blocks, err := doctest.ParseFile(docsCLI)
	if err != nil {
		t.Fatal(err)
	}
	bins := docBinaries(t)
	for _, b := range blocks {
		if b.File != "" {
			if !filepath.IsLocal(b.File) {
				t.Fatalf("docs/cli.md:%d: file %q is not a path inside the example's directory", b.Line, b.File)
			}
			bins.files[b.File] = strings.Join(b.Body, "\n") + "\n"
		}
	}
	examples, marked, cluster, skipped := 0, 0, 0, 0
	var prev *doctest.Block // the last example, for "runs after the example above"
	for _, b := range blocks {
		if b.NotRun != "" {
			marked++
		}
		if len(b.Cmds) == 0 {
			if b.Listing && b.NotRun == "" {
				t.Errorf("docs/cli.md:%d: a block of tether commands without \"$ \" prompts: write it as an example (\"$ \" lines, each followed by what it prints) or mark it <!-- not run: REASON -->", b.Line)
			}
			continue
		}
		examples++
		if b.Cluster {
			cluster++
		}
		var setup *doctest.Block
		if b.After {
			if prev == nil {
				t.Errorf("docs/cli.md:%d: marked to run after the example above, but there is none", b.Line)
				continue
			}
			setup = prev
		}
		var sub *testing.T
		t.Run(b.Name(), func(t *testing.T) {
			sub = t
			switch {
			case b.NotRun != "":
				t.Skipf("docs/cli.md:%d: not run: %s", b.Line, b.NotRun)
			case b.Cluster:
				t.Skipf("docs/cli.md:%d: runs on the test cluster: test/kubecluster's TestDocsCLI runs it", b.Line)
			}
			s := newDocSession(t, bins)
			if setup != nil {
				s.runBlock(setup, false)
			}
			s.runBlock(b, true)
		})
		if sub != nil && sub.Skipped() {
			skipped++
		}
		if b.NotRun == "" && !b.Cluster {
			prev = b
		}
	}
	if examples == 0 {
		t.Fatalf("found no example in %s: is the parser broken?", docsCLI)
	}
	if skipped > marked+cluster {
		t.Errorf("%d examples skipped, but only %d are marked not run and %d to run on the test cluster", skipped, marked, cluster)
	}
	t.Logf("%d examples, %d blocks marked not run, %d run on the test cluster, %d skipped", examples, marked, cluster, skipped)
}

// docPlugins are the programs the doc's examples name, by their path in
// the example's directory, and the packages they are built from.
var docPlugins = map[string]string{
	"bin/plugins/greeter-en": greeterPkg,
	"noreflect":              noreflectPkg,
	"echoplugin":             plugintest.EchoPlugin,
	"my-plugin":              "github.com/tetherplug/tether/test/plugins/confplugin",
}

// docBins are the binaries an example's directory links to.
type docBins struct {
	tether  string            // the tether binary
	plugins map[string]string // docPlugins' paths → built binaries
	readme  []byte            // README.md, a file that is not a program
	files   map[string]string // the doc's "file" blocks by name, and echo.binpb
}

// docBinaries builds tether and the plugins once for every example.
func docBinaries(t *testing.T) docBins {
	t.Helper()
	// echo.binpb is the descriptor set the doc's --protoset examples read.
	bins := docBins{tether: cli(t), plugins: map[string]string{}, files: map[string]string{"echo.binpb": string(echoProtoset(t))}}
	for path, pkg := range docPlugins {
		bins.plugins[path] = tethertest.Build(t, pkg)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	bins.readme = readme
	return bins
}

// prepare fills dir as a user's working directory for the examples.
func (bins docBins) prepare(t *testing.T, dir string) {
	t.Helper()
	for path, bin := range bins.plugins {
		p := filepath.Join(dir, filepath.FromSlash(path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(bin, p); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{"README.md": string(bins.readme)}
	maps.Copy(files, bins.files)
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// docEnv is the environment of an example's commands: nothing of the
// test's own but PATH (after tether's directory), so that no TETHER_* or
// KUBECONFIG of the machine changes what they print.
func docEnv(root, tetherDir, mark string) []string {
	env := []string{
		"PATH=" + tetherDir + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + filepath.Join(root, "home"),
		"TMPDIR=" + filepath.Join(root, "tmp"),
		"LANG=C.UTF-8",
		markEnv + "=" + mark,
	}
	for _, xdg := range []string{"CONFIG_HOME", "CACHE_HOME", "DATA_HOME", "STATE_HOME", "RUNTIME_DIR"} {
		env = append(env, "XDG_"+xdg+"="+filepath.Join(root, "home", strings.ToLower(xdg)))
	}
	return env
}
