package main

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

// TestVersionText: the version, the revision with "(modified)" only for a
// dirty tree, no revision line without VCS information, and "unknown"
// without build information.
func TestVersionText(t *testing.T) {
	platform := " " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
	vcs := func(modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
			{Key: "vcs.time", Value: "2026-12-06T18:00:00Z"}, {Key: "vcs.modified", Value: modified}}
	}
	main := func(version string) debug.Module {
		return debug.Module{Path: "github.com/tetherplug/tether", Version: version}
	}
	for _, tc := range []struct {
		name string
		info *debug.BuildInfo
		ok   bool
		want string
	}{
		{"release", &debug.BuildInfo{GoVersion: "go1.26.0", Main: main("v0.1.0")}, true,
			"tether v0.1.0\ngo1.26.0" + platform},
		{"clean checkout", &debug.BuildInfo{GoVersion: "go1.26.0", Main: main("v0.1.1-0.20261206180000-0123456789ab"), Settings: vcs("false")}, true,
			"tether v0.1.1-0.20261206180000-0123456789ab\nrevision 0123456789abcdef0123456789abcdef01234567\ngo1.26.0" + platform},
		{"dirty checkout", &debug.BuildInfo{GoVersion: "go1.26.0", Main: main("(devel)"), Settings: vcs("true")}, true,
			"tether (devel)\nrevision 0123456789abcdef0123456789abcdef01234567 (modified)\ngo1.26.0" + platform},
		{"no build information", nil, false,
			"tether unknown\n" + runtime.Version() + platform},
	} {
		if got := versionText(tc.info, tc.ok); got != tc.want {
			t.Errorf("%s: versionText =\n%s\nwant\n%s", tc.name, got, tc.want)
		}
	}
}

// TestVersionOfBuiltBinary: a tether binary built from a git repository
// prints, for both "tether version" and "tether --version", the commit it
// was built from, "(modified)" once the tree has an uncommitted change, and
// the Go version that built it.
func TestVersionOfBuiltBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the CLI twice from a copy of the repository")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// A repository of its own holding a copy of this checkout's files as
	// one commit: this checkout may be dirty, or a git worktree, where the
	// go command records no VCS information.
	repo := filepath.Join(t.TempDir(), "tether")
	copyCheckout(ctx, t, "../..", repo)
	gitOut(ctx, t, repo, "init", "--quiet")
	gitOut(ctx, t, repo, "add", "--all")
	gitOut(ctx, t, repo, "-c", "user.name=test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false", "commit", "--quiet", "--message", "snapshot")
	head := gitOut(ctx, t, repo, "rev-parse", "HEAD")

	// The go command derives the module version from the commit (a
	// pseudo-version ending in its first 12 digits, "+dirty" for a
	// modified tree) and records the revision.
	check := func(bin, versionSuffix, revisionLine string) {
		t.Helper()
		goLine := runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
		for _, args := range [][]string{{"version"}, {"--version"}} {
			out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
			if err != nil {
				t.Fatalf("tether %s: %v\n%s", args[0], err, out)
			}
			lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
			if len(lines) != 3 || !strings.HasPrefix(lines[0], "tether v") || !strings.HasSuffix(lines[0], versionSuffix) ||
				lines[1] != revisionLine || lines[2] != goLine {
				t.Errorf("tether %s printed\n%s\nwant: tether v...%s\n%s\n%s", args[0], out, versionSuffix, revisionLine, goLine)
			}
		}
	}
	check(buildVCS(ctx, t, repo), "-"+head[:12], "revision "+head)
	if err := os.WriteFile(filepath.Join(repo, "uncommitted.txt"), []byte("change\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	check(buildVCS(ctx, t, repo), "-"+head[:12]+"+dirty", "revision "+head+" (modified)")
}

// copyCheckout copies the files of the git checkout src that git tracks
// or would (untracked but not ignored) into dst, keeping their modes.
func copyCheckout(ctx context.Context, t *testing.T, src, dst string) {
	t.Helper()
	list := gitOut(ctx, t, src, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	for _, name := range strings.Split(list, "\x00") {
		fi, err := os.Lstat(filepath.Join(src, name))
		if name == "" || errors.Is(err, fs.ErrNotExist) || err == nil && !fi.Mode().IsRegular() {
			continue // deleted in the checkout, or a symbolic link
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		to := filepath.Join(dst, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, b, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
}

// buildVCS builds the CLI in dir with VCS stamping on (the environment
// may turn it off through GOFLAGS) and returns the program's path.
func buildVCS(ctx context.Context, t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "tether")
	cmd := exec.CommandContext(ctx, "go", "build", "-buildvcs=true", "-o", bin, "./cmd/tether")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build -buildvcs=true ./cmd/tether: %v\n%s", err, out)
	}
	return bin
}

// gitOut runs git in dir and returns its trimmed standard output.
func gitOut(ctx context.Context, t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	// Fixed dates: the same files make the same commit, and so the same
	// version, on every run.
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_DATE=2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE=2026-01-01T00:00:00Z")
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return strings.TrimSpace(string(out))
}
