package downstream

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
	"golang.org/x/mod/zip"
)

// tetherPath is the module path of the module under test.
const tetherPath = "github.com/tetherplug/tether"

// pseudoTime is the time of every version published here: the version is
// told apart by its revision, a hash of the module's files, so that the
// same files make the same version (and reuse the module cache's copy
// and the build cache) and changed files a new one.
var pseudoTime = time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC)

// proxy is a file-based module proxy (GOPROXY=file://dir) serving the
// tether module of a checkout as one version.
type proxy struct {
	dir     string
	version string
}

// url is the proxy's GOPROXY entry.
func (p *proxy) url() string {
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(p.dir)}).String()
}

// publish serves the tether module in the git checkout root (the files git
// tracks or would track: uncommitted changes included, ignored files such
// as bin/ left out) from a new file-based proxy, as a pseudo-version whose
// revision is a hash of those files. Files of nested modules (compat,
// test/...) are left out, as the go command leaves them out of a module.
func publish(ctx context.Context, t *testing.T, root string) *proxy {
	t.Helper()
	files := checkoutFiles(ctx, t, root)
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = f.Path()
	}
	h1, err := dirhash.Hash1(names, func(name string) (io.ReadCloser, error) { return os.Open(filepath.Join(root, name)) })
	if err != nil {
		t.Fatal(err)
	}
	sum, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(h1, "h1:"))
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{dir: t.TempDir(), version: module.PseudoVersion("v0", "", pseudoTime, hex.EncodeToString(sum)[:12])}
	mv := module.Version{Path: tetherPath, Version: p.version}
	escPath, err := module.EscapePath(tetherPath)
	if err != nil {
		t.Fatal(err)
	}
	vdir := filepath.Join(p.dir, filepath.FromSlash(escPath), "@v")
	if err := os.MkdirAll(vdir, 0o755); err != nil {
		t.Fatal(err)
	}
	z, err := os.Create(filepath.Join(vdir, p.version+".zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	if err := zip.Create(z, mv, files); err != nil {
		t.Fatal(err)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	goMod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	info, err := json.Marshal(struct {
		Version string
		Time    time.Time
	}{p.version, pseudoTime})
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{p.version + ".mod": goMod, p.version + ".info": info, "list": []byte(p.version + "\n")} {
		if err := os.WriteFile(filepath.Join(vdir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// checkoutFile is one file of a checkout, as zip.Create takes it.
type checkoutFile struct {
	root, name string
	info       fs.FileInfo
}

func (f checkoutFile) Path() string                 { return f.name }
func (f checkoutFile) Lstat() (fs.FileInfo, error)  { return f.info, nil }
func (f checkoutFile) Open() (io.ReadCloser, error) { return os.Open(filepath.Join(f.root, f.name)) }

// checkoutFiles lists the regular files of the git checkout root that git
// tracks or would track (untracked but not ignored), sorted by git.
func checkoutFiles(ctx context.Context, t *testing.T, root string) []zip.File {
	t.Helper()
	cmd := exec.CommandContext(ctx, "git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Skipf("%s is not a git checkout (git ls-files: %v): cannot tell its files from build output", root, err)
	}
	var files []zip.File
	for _, name := range strings.Split(string(out), "\x00") {
		if name == "" {
			continue
		}
		info, err := os.Lstat(filepath.Join(root, filepath.FromSlash(name)))
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted, not yet committed
		}
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().IsRegular() {
			files = append(files, checkoutFile{root: root, name: name, info: info})
		}
	}
	return files
}

// removeFromModCache removes what the go command stored in the module
// cache modCache for version v of the tether module (and only that), so
// that the versions published by test runs do not pile up there.
func removeFromModCache(t *testing.T, modCache, v string) {
	t.Helper()
	escPath, err := module.EscapePath(tetherPath)
	if err != nil {
		t.Fatal(err)
	}
	extracted := filepath.Join(modCache, filepath.FromSlash(escPath)+"@"+v)
	// The go command makes the extracted files and directories read-only.
	_ = filepath.WalkDir(extracted, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			err = os.Chmod(path, 0o755)
		}
		return err
	})
	if err := os.RemoveAll(extracted); err != nil {
		t.Errorf("removing %s from the module cache: %v", v, err)
	}
	vdir := filepath.Join(modCache, "cache", "download", filepath.FromSlash(escPath), "@v")
	downloads, _ := filepath.Glob(filepath.Join(vdir, v+".*"))
	for _, f := range downloads {
		if err := os.Remove(f); err != nil {
			t.Errorf("removing %s from the module cache: %v", v, err)
		}
	}
	// The list of the versions the cache holds.
	list := filepath.Join(vdir, "list")
	b, err := os.ReadFile(list)
	if err != nil {
		return
	}
	var keep []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line != v && line != "" {
			keep = append(keep, line)
		}
	}
	if len(keep) == 0 {
		err = os.Remove(list)
	} else {
		err = os.WriteFile(list, []byte(strings.Join(keep, "\n")+"\n"), 0o644)
	}
	if err != nil {
		t.Errorf("removing %s from the module cache's list: %v", v, err)
	}
}
