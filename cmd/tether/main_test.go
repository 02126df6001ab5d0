package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tetherplug/tether/internal/plugintest"
	"github.com/tetherplug/tether/tethertest"
)

// The tests run the real tether binary against real plugins, each built once.
const (
	cliPkg     = "github.com/tetherplug/tether/cmd/tether"
	greeterPkg = "github.com/tetherplug/tether/examples/greeter/plugins/greeter-en"
)

// greeterEnv is the extra environment greeter runs need: none, since the
// greeter example uses tether's default magic cookie, which the CLI offers
// itself (the acceptance commands run without flags).
var greeterEnv []string

func TestMain(m *testing.M) { tethertest.Main(m) }

func cli(t *testing.T) string     { return tethertest.Build(t, cliPkg) }
func greeter(t *testing.T) string { return tethertest.Build(t, greeterPkg) }
func echo(t *testing.T) string    { return tethertest.Build(t, plugintest.EchoPlugin) }

// markEnv is the environment variable that tags every process one run of
// the CLI starts, so that a test can find any it left behind.
const markEnv = "TETHER_CLI_TEST_MARK"

// result is how one run of the CLI went.
type result struct {
	stdout, stderr string
	code           int
	elapsed        time.Duration
}

// run runs the CLI with args and stdin and extra environment, bounded by
// 30 s, then checks that no process it started is still running.
func run(t *testing.T, stdin string, env []string, args ...string) result {
	t.Helper()
	return runIn(t, "", stdin, env, args...)
}

// runIn is run with dir as the CLI's working directory ("" for the test's).
func runIn(t *testing.T, dir, stdin string, env []string, args ...string) result {
	t.Helper()
	bin := cli(t) // built first: a build slowed by a loaded machine must not eat the run's bound
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	mark, tmp := newMark(t), t.TempDir()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(cliEnv(mark, tmp), env...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String(), elapsed: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		t.Fatalf("tether %v: %v", args, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("tether %v did not finish within 30 s; stderr:\n%s", args, r.stderr)
	}
	assertNoneLeft(t, mark, tmp)
	return r
}

// cliEnv is the environment the CLI runs in: tagged with mark, and with a
// temporary directory of its own, where plugins' socket directories go.
func cliEnv(mark, tmp string) []string {
	return append(os.Environ(), markEnv+"="+mark, "TMPDIR="+tmp)
}

func newMark(t *testing.T) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// assertNoneLeft fails if any process the CLI started outlived it, or if
// anything is left in its temporary directory (a plugin's socket directory)
// other than the names in keep.
func assertNoneLeft(t *testing.T, mark, tmp string, keep ...string) {
	t.Helper()
	if pids := marked(t, mark); len(pids) > 0 {
		t.Errorf("processes left behind after the CLI exited: %v", pids)
	}
	left, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range left {
		if !slices.Contains(keep, e.Name()) {
			t.Errorf("left behind in TMPDIR: %s", e.Name())
		}
	}
}

// requireOK fails unless the run exited 0.
func requireOK(t *testing.T, r result) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit status %d; stderr:\n%s", r.code, r.stderr)
	}
}
