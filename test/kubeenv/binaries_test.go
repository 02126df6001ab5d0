package kubeenv

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeBuild writes a small executable to out after a pause, counting calls
// per binary.
func fakeBuild(counts map[string]*atomic.Int32, fail string) func(name, pkg, out string) error {
	return func(name, pkg, out string) error {
		counts[name].Add(1)
		if name == fail {
			// A failed build may leave a partial output behind.
			os.WriteFile(out, []byte("partial"), 0o644)
			return &BuildError{Binary: name, Err: errors.New("compile error")}
		}
		time.Sleep(20 * time.Millisecond)
		return os.WriteFile(out, []byte("#!/bin/sh\n"), 0o644)
	}
}

func newCounts() map[string]*atomic.Int32 {
	m := map[string]*atomic.Int32{}
	for _, b := range binaryPackages {
		m[b.name] = new(atomic.Int32)
	}
	return m
}

func TestEnsureBuildsEachBinaryOnceUnderConcurrency(t *testing.T) {
	dir := t.TempDir()
	counts := newCounts()
	build := fakeBuild(counts, "")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() { errs <- ensure(context.Background(), dir, build, nil) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("ensure: %v", err)
		}
	}
	for name, c := range counts {
		if got := c.Load(); got != 1 {
			t.Errorf("%s built %d times, want 1", name, got)
		}
	}
	if err := binariesIn(dir).check(); err != nil {
		t.Fatalf("binaries after ensure: %v", err)
	}
	assertNoTempFiles(t, dir)
}

func TestEnsureFailedBuildLeavesNoBinary(t *testing.T) {
	dir := t.TempDir()
	counts := newCounts()
	err := ensure(context.Background(), dir, fakeBuild(counts, "kube-apiserver"), nil)
	var be *BuildError
	if !errors.As(err, &be) || be.Binary != "kube-apiserver" {
		t.Fatalf("ensure with a failing build: %v, want a *BuildError for kube-apiserver", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "kube-apiserver")); !os.IsNotExist(err) {
		t.Fatalf("a failed build left kube-apiserver in place (stat: %v)", err)
	}
	assertNoTempFiles(t, dir)
	// The next run builds what is missing, and only that.
	counts = newCounts()
	if err := ensure(context.Background(), dir, fakeBuild(counts, ""), nil); err != nil {
		t.Fatalf("ensure after a failure: %v", err)
	}
	if counts["etcd"].Load() != 0 || counts["kube-apiserver"].Load() != 1 {
		t.Fatalf("rebuild counts etcd=%d kube-apiserver=%d, want 0 and 1", counts["etcd"].Load(), counts["kube-apiserver"].Load())
	}
}

func TestEnsureWaitingForTheLockEndsWithTheContext(t *testing.T) {
	dir := t.TempDir()
	unlock, err := lockFile(context.Background(), filepath.Join(dir, ".lock"))
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- ensure(ctx, dir, fakeBuild(newCounts(), ""), nil) }()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("ensure while another holds the lock: %v, want context.DeadlineExceeded", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ensure did not give up on the lock when its context ended")
	}
}

func TestUpWithMissingBinariesNamesTheFile(t *testing.T) {
	t.Setenv(BinDirEnv, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := Up(ctx, Options{})
	if err == nil || !strings.Contains(err.Error(), "etcd") || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Up without binaries: %v, want a not-exist error naming etcd", err)
	}
}

func TestUpReportsAProcessThatExitsWithItsLog(t *testing.T) {
	dir := t.TempDir()
	script := "#!/bin/sh\necho 'etcd: boom, no data dir' >&2\nexit 3\n"
	for _, b := range binaryPackages {
		if err := os.WriteFile(filepath.Join(dir, b.name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv(BinDirEnv, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := Up(ctx, Options{})
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Process != "etcd" || !strings.Contains(ee.LogTail, "boom") {
		t.Fatalf("Up with an etcd that exits: %v, want an *ExitError for etcd with its log", err)
	}
}

func TestNamespaceNameIsValid(t *testing.T) {
	for _, in := range []string{"TestX", "TestA/sub_case #1", strings.Repeat("Long", 40), "///"} {
		n := namespaceName(in)
		if len(n) > 63 || !regexpDNSLabel.MatchString(n) {
			t.Errorf("namespaceName(%q) = %q: not a DNS label", in, n)
		}
	}
	if namespaceName("TestX") == namespaceName("TestX") {
		t.Error("two namespaces for one test name are equal")
	}
}

func assertNoTempFiles(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file %s left in the cache", e.Name())
		}
	}
}
