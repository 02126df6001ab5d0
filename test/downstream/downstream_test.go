// Package downstream tests the tether module as a module outside this
// repository uses it: the working tree is published as a version on a
// file-based module proxy, and an application module requires that
// version, lists its module graph, builds a host and a plugin, and installs
// the tether CLI with go install MODULE@VERSION. It is a module of its own
// so that the tether module does not require golang.org/x/mod.
package downstream

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// rootDir is the tether module's directory.
const rootDir = "../.."

// goCmd runs the go command in dir with env and returns its standard output,
// failing t with its standard error if it fails.
func goCmd(ctx context.Context, t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir, cmd.Env, cmd.WaitDelay = dir, env, 5*time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("go %s (in %s): %v\n%s", strings.Join(args, " "), dir, err, stderr.String())
	}
	t.Logf("go %s: %v", strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	return stdout.String()
}

// downstreamEnv is the go command's environment for a module outside this
// repository: modules from proxy first, then from the usual proxies, with
// no checksum database lookup for the unpublished tether module only.
func downstreamEnv(ctx context.Context, t *testing.T, p *proxy, gobin string) []string {
	t.Helper()
	usual := strings.TrimSpace(goCmd(ctx, t, rootDir, os.Environ(), "env", "GOPROXY"))
	return append(os.Environ(), "GOPROXY="+p.url()+","+usual, "GONOSUMDB="+tetherPath, "GOWORK=off", "GOBIN="+gobin)
}

// TestDownstreamModule: an application module requires the tether module
// at a version (go get, as docs/plugins.md says), and then "go list -m all"
// succeeds (it failed while go.mod required test/kubeenv at a version no
// proxy has), its host and plugin build and talk to each other, the host
// depends on no k8s.io package, and "go install .../cmd/tether@VERSION"
// (refused while go.mod had a replace directive) installs a CLI that
// reports that version.
func TestDownstreamModule(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute) // cold build cache: compiles client-go for the CLI
	defer cancel()
	p := publish(ctx, t, rootDir)
	gobin := t.TempDir()
	env := downstreamEnv(ctx, t, p, gobin)
	modCache := strings.TrimSpace(goCmd(ctx, t, rootDir, env, "env", "GOMODCACHE"))
	t.Cleanup(func() { removeFromModCache(t, modCache, p.version) })

	app := t.TempDir()
	if err := os.CopyFS(app, os.DirFS("testdata/app")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(app, "go.mod"), []byte("module example.com/app\n\ngo 1.26.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	get, install := installCommands(t)
	goCmd(ctx, t, app, env, atVersion(get, p.version)...)
	goCmd(ctx, t, app, env, "mod", "tidy")

	graph := goCmd(ctx, t, app, env, "list", "-m", "all")
	if want := tetherPath + " " + p.version; !strings.Contains(graph, want+"\n") {
		t.Errorf("go list -m all does not list %q:\n%s", want, graph)
	}
	if strings.Contains(graph, tetherPath+"/") {
		t.Errorf("go list -m all lists another module of the tether repository:\n%s", graph)
	}

	for _, pkg := range strings.Fields(goCmd(ctx, t, app, env, "list", "-deps", "./host")) {
		if strings.HasPrefix(pkg, "k8s.io/") {
			t.Errorf("a host importing only the tether package depends on %s", pkg)
		}
	}

	bin := t.TempDir()
	goCmd(ctx, t, app, env, "build", "-o", bin+string(filepath.Separator), "./host", "./plugin")
	hostOut, err := exec.CommandContext(ctx, filepath.Join(bin, "host"), filepath.Join(bin, "plugin")).CombinedOutput()
	if err != nil || string(hostOut) != "Hello, downstream!\n" {
		t.Errorf("host plugin: %v, output %q, want %q", err, hostOut, "Hello, downstream!\n")
	}

	goCmd(ctx, t, app, env, atVersion(install, p.version)...)
	version := goCmd(ctx, t, app, env, "version", "-m", filepath.Join(gobin, "tether"))
	out, err := exec.CommandContext(ctx, filepath.Join(gobin, "tether"), "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("tether --version: %v\n%s", err, out)
	}
	if first, _, _ := strings.Cut(string(out), "\n"); first != "tether "+p.version {
		t.Errorf("installed tether --version printed\n%s\nwant the first line %q (build information:\n%s)", out, "tether "+p.version, version)
	}
}

// atVersion turns a documented "go get|install PATH@latest" command line
// into the go command's arguments for version v.
func atVersion(line, v string) []string {
	args := strings.Fields(strings.TrimSuffix(line, "@latest") + "@" + v)
	return args[1:]
}
