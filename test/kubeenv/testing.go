package kubeenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// StartTimeout bounds building the binaries (when the cache is cold) and
// starting the control plane from Start. A cold build takes many minutes on
// two cores: run `make kube-binaries` first, or give go test a -timeout to
// match.
var StartTimeout = 30 * time.Minute

// shared is the one control plane of a test binary.
var shared struct {
	sync.Mutex
	main    bool    // Main is running the tests
	opts    Options // from Main
	env     *Env    // started on first Start
	err     error   // the first start's failure, returned to every later Start
	started sync.Once
}

// Main runs the tests of a package that uses Start and stops the control
// plane afterwards, if one was started. Call it from TestMain:
//
//	func TestMain(m *testing.M) { kubeenv.Main(m, kubeenv.Options{}) }
//
// opts configure the shared control plane (the images the node agent may
// run, the agent itself). When a test failed, Main prints the tail of every
// control-plane log before exiting. Main is os.Exit(Run(m, opts)).
func Main(m *testing.M, opts Options) {
	os.Exit(Run(m, opts))
}

// Run is Main without the exit: it returns the exit code, for a TestMain
// that has more to clean up after the control plane has stopped.
func Run(m *testing.M, opts Options) int {
	shared.Lock()
	shared.main = true
	shared.opts = opts
	shared.Unlock()
	code := m.Run()
	shared.Lock()
	env := shared.env
	shared.Unlock()
	if env != nil {
		if code != 0 {
			fmt.Fprintf(os.Stderr, "kubeenv: control-plane logs (%s):\n%s", env.Dir(), env.Logs(40))
		}
		env.Stop()
		if left := env.Leftovers(); len(left) > 0 {
			fmt.Fprintf(os.Stderr, "kubeenv: processes left running after Stop: %v\n", left)
			code = 1
		}
	}
	return code
}

// Start returns the test binary's control plane, starting it on first use
// (later calls share it). It fails t if the package's TestMain does not
// call Main, which stops the control plane at the end, or if the control
// plane cannot start; every later Start then fails with the same error.
func Start(t testing.TB) *Env {
	t.Helper()
	shared.Lock()
	isMain, opts := shared.main, shared.opts
	shared.Unlock()
	if !isMain {
		t.Fatal("kubeenv: Start needs kubeenv.Main in the package's TestMain (it stops the control plane)")
	}
	shared.started.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
		defer cancel()
		begin := time.Now()
		if opts.Progress == nil {
			opts.Progress = func(s string) { t.Logf("kubeenv: %s (%.1fs)", s, time.Since(begin).Seconds()) }
		}
		env, err := Up(ctx, opts)
		shared.Lock()
		shared.env, shared.err = env, err
		shared.Unlock()
	})
	shared.Lock()
	env, err := shared.env, shared.err
	shared.Unlock()
	if err != nil {
		t.Fatalf("kubeenv: control plane: %v", err)
	}
	return env
}

// namespaceUnsafe matches what may not appear in a namespace name.
var namespaceUnsafe = regexp.MustCompile(`[^a-z0-9-]+`)

// Namespace creates a namespace for the test, named after it with a random
// suffix, waits until its "default" service account exists (pods cannot be
// created before), and deletes it when the test ends. Tests that each use
// their own namespace can run in parallel.
func (e *Env) Namespace(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := namespaceName(t.Name())
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubeenv.tether.dev/test": "true"}}}
	if _, err := e.client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("kubeenv: creating namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := e.client.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Errorf("kubeenv: deleting namespace %s: %v", name, err)
		}
	})
	if err := e.waitServiceAccount(ctx, name); err != nil {
		t.Fatalf("kubeenv: namespace %s: %v", name, err)
	}
	return name
}

// namespaceName makes a valid, unique namespace name (at most 63
// characters of [a-z0-9-]) from a test name.
func namespaceName(test string) string {
	s := namespaceUnsafe.ReplaceAllString(strings.ToLower(test), "-")
	s = strings.Trim(s, "-")
	if len(s) > 50 {
		s = strings.TrimRight(s[:50], "-")
	}
	if s == "" {
		s = "test"
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return s + "-" + hex.EncodeToString(b)
}
