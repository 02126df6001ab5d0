package kubeenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
)

// Version is the Kubernetes version the control plane is built from. The
// binaries are cached under a directory named after it.
const Version = "v1.36.3"

// BinDirEnv names an environment variable that, when set, points at a
// directory holding prebuilt etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler and kubectl binaries; nothing is built then.
const BinDirEnv = "TETHER_KUBEENV_BINDIR"

// Binaries holds the paths of the four control-plane programs, and of the
// kubectl of the same version (docs/kubernetes.md's quick start uses it).
type Binaries struct {
	Etcd              string
	APIServer         string
	ControllerManager string
	Scheduler         string
	Kubectl           string
}

// binaryPackages maps each binary's file name to the package that builds it,
// relative to the build module.
var binaryPackages = []struct{ name, pkg string }{
	{"etcd", "./etcd"},
	{"kube-apiserver", "k8s.io/kubernetes/cmd/kube-apiserver"},
	{"kube-controller-manager", "k8s.io/kubernetes/cmd/kube-controller-manager"},
	{"kube-scheduler", "k8s.io/kubernetes/cmd/kube-scheduler"},
	{"kubectl", "k8s.io/kubernetes/cmd/kubectl"},
}

// BuildError reports that one control-plane binary could not be built; Log
// holds the tail of the go build output.
type BuildError struct {
	Binary string
	Err    error
	Log    string
}

func (e *BuildError) Error() string {
	return fmt.Sprintf("kubeenv: building %s: %v\n%s", e.Binary, e.Err, e.Log)
}

func (e *BuildError) Unwrap() error { return e.Err }

// CacheDir returns the directory the binaries of Version are cached in:
// os.UserCacheDir()/tether-kubeenv/<Version>, or the directory named by
// BinDirEnv when that is set.
func CacheDir() (string, error) {
	if d := os.Getenv(BinDirEnv); d != "" {
		return d, nil
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("kubeenv: no user cache directory: %w", err)
	}
	return filepath.Join(base, "tether-kubeenv", Version), nil
}

// BuildModuleDir returns the directory of the nested Go module that builds
// the binaries (test/kubeenv/build in the source tree this package was
// compiled from).
func BuildModuleDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "build")
}

// EnsureBinaries returns the control-plane binaries, building the missing
// ones into CacheDir first. Concurrent callers, in this process or others,
// build each binary once: the cache directory is locked while building, and
// each binary is written to a temporary file that is renamed into place only
// once complete, so a half-written binary is never used. progress, when not
// nil, receives a line per binary built.
func EnsureBinaries(ctx context.Context, progress func(string)) (Binaries, error) {
	dir, err := CacheDir()
	if err != nil {
		return Binaries{}, err
	}
	if os.Getenv(BinDirEnv) != "" {
		b := binariesIn(dir)
		return b, b.check()
	}
	build := func(name, pkg, out string) error { return goBuild(ctx, name, pkg, out) }
	if err := ensure(ctx, dir, build, progress); err != nil {
		return Binaries{}, err
	}
	return binariesIn(dir), nil
}

func binariesIn(dir string) Binaries {
	return Binaries{
		Etcd:              filepath.Join(dir, "etcd"),
		APIServer:         filepath.Join(dir, "kube-apiserver"),
		ControllerManager: filepath.Join(dir, "kube-controller-manager"),
		Scheduler:         filepath.Join(dir, "kube-scheduler"),
		Kubectl:           filepath.Join(dir, "kubectl"),
	}
}

// check reports the first binary that is missing or not executable.
func (b Binaries) check() error {
	for _, p := range []string{b.Etcd, b.APIServer, b.ControllerManager, b.Scheduler, b.Kubectl} {
		st, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("kubeenv: control-plane binary: %w", err)
		}
		if st.Mode()&0o111 == 0 {
			return fmt.Errorf("kubeenv: control-plane binary %s is not executable", p)
		}
	}
	return nil
}

// ensure builds, under an exclusive lock on dir/.lock, every binary of
// binaryPackages missing from dir, each through build into a temporary file
// that is then renamed into place.
func ensure(ctx context.Context, dir string, build func(name, pkg, out string) error, progress func(string)) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("kubeenv: cache directory: %w", err)
	}
	unlock, err := lockFile(ctx, filepath.Join(dir, ".lock"))
	if err != nil {
		return err
	}
	defer unlock()
	// Temporary files of a build that was killed: no one else can be
	// writing them while the lock is held.
	if stale, err := filepath.Glob(filepath.Join(dir, ".*.tmp-*")); err == nil {
		for _, f := range stale {
			os.Remove(f)
		}
	}
	for _, b := range binaryPackages {
		final := filepath.Join(dir, b.name)
		if _, err := os.Stat(final); err == nil {
			continue
		}
		tmp, err := os.CreateTemp(dir, "."+b.name+".tmp-*")
		if err != nil {
			return fmt.Errorf("kubeenv: cache directory: %w", err)
		}
		tmp.Close()
		if progress != nil {
			progress("building " + b.name + " into " + dir)
		}
		if err := build(b.name, b.pkg, tmp.Name()); err != nil {
			os.Remove(tmp.Name())
			return err
		}
		if err := os.Chmod(tmp.Name(), 0o755); err != nil {
			os.Remove(tmp.Name())
			return fmt.Errorf("kubeenv: %w", err)
		}
		if err := os.Rename(tmp.Name(), final); err != nil {
			os.Remove(tmp.Name())
			return fmt.Errorf("kubeenv: %w", err)
		}
	}
	return nil
}

// lockFile takes an exclusive flock on path, giving up when ctx ends.
func lockFile(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("kubeenv: lock file: %w", err)
	}
	got := make(chan error, 1)
	go func() { got <- syscall.Flock(int(f.Fd()), syscall.LOCK_EX) }()
	select {
	case err := <-got:
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("kubeenv: locking %s: %w", path, err)
		}
		return func() { f.Close() }, nil
	case <-ctx.Done():
		// Closing the file releases the lock should the flock still succeed.
		go func() { <-got; f.Close() }()
		return nil, fmt.Errorf("kubeenv: waiting for the build lock %s: %w", path, ctx.Err())
	}
}

// goBuild builds pkg of the build module into out, with the version stamped.
func goBuild(ctx context.Context, name, pkg, out string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return &BuildError{Binary: name, Err: fmt.Errorf("no go command to build with: %w", err)}
	}
	dir := BuildModuleDir()
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		return &BuildError{Binary: name, Err: fmt.Errorf("build module not found: %w", err)}
	}
	cmd := exec.CommandContext(ctx, goBin, "build",
		"-ldflags", "-X k8s.io/component-base/version.gitVersion="+Version,
		"-o", out, pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off")
	outText, err := cmd.CombinedOutput()
	if err != nil {
		return &BuildError{Binary: name, Err: err, Log: tail(string(outText), 40)}
	}
	return nil
}
