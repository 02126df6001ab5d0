package e2e_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
)

// launchFailure is one way a launch must fail: the program, the echo mode,
// extra options, and what the error must say.
type launchFailure struct {
	name     string
	path     func(t *testing.T) string // nil: the echo plugin
	mode     string
	opts     []tether.Option
	kind     error    // the sentinel errors.Is must match
	exitCode int      // PluginError.ExitCode, -1 for no exit status; ignored for version errors
	contains []string // substrings of the message
	within   time.Duration
}

func TestLaunchFailures(t *testing.T) {
	t.Parallel()
	readme := func(t *testing.T) string {
		p := filepath.Join(t.TempDir(), "README.md")
		if err := os.WriteFile(p, []byte("# tether\n\nNot a program.\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fixed := func(p string) func(*testing.T) string { return func(*testing.T) string { return p } }
	otherApp := tether.HandshakeConfig{MagicCookieKey: "OTHER_APP_PLUGIN", MagicCookieValue: "other"}

	cases := []launchFailure{
		{name: "true", path: fixed("/bin/true"), kind: tether.ErrNotPlugin, exitCode: 0,
			contains: []string{"not a plugin", "exited without printing a handshake line", "exit status 0", "printed nothing"}},
		{name: "cat", path: fixed("/bin/cat"), kind: tether.ErrNotPlugin, exitCode: 0,
			contains: []string{"not a plugin", "exit status 0", "printed nothing"}},
		{name: "README", path: readme, kind: tether.ErrNotPlugin, exitCode: -1,
			contains: []string{"not a plugin", "could not start", "permission denied"}},
		{name: "missing", path: fixed("/nonexistent/plugin"), kind: tether.ErrNotPlugin, exitCode: -1,
			contains: []string{"not a plugin", "could not start", "no such file or directory"}},
		{name: "garbage", mode: "garbage", kind: tether.ErrNotPlugin, exitCode: -1,
			contains: []string{"not a plugin", "not a handshake", `it printed: "hello, I am not a plugin"`}},
		{name: "hang", mode: "hang", opts: []tether.Option{tether.WithStartTimeout(500 * time.Millisecond)},
			kind: tether.ErrStartTimeout, exitCode: -1, within: 3 * time.Second,
			contains: []string{"start timeout", "no handshake line within 500ms"}},
		{name: "deaf", mode: "deaf", opts: []tether.Option{tether.WithStartTimeout(time.Second)},
			kind: tether.ErrStartTimeout, exitCode: -1, within: 4 * time.Second,
			contains: []string{"start timeout", "accepted no gRPC connection in time"}},
		{name: "exit3", mode: "exit3", kind: tether.ErrNotPlugin, exitCode: 3,
			contains: []string{"exit status 3", "echoplugin: something went wrong"}},
		{name: "wrong cookie", opts: []tether.Option{tether.WithHandshake(otherApp)},
			kind: tether.ErrWrongCookie, exitCode: 1,
			contains: []string{"wrong magic cookie", "This binary is a plugin"}},
		{name: "address elsewhere", mode: "elsewhere", kind: tether.ErrNotPlugin, exitCode: -1, within: 3 * time.Second,
			contains: []string{"outside this machine", "192.0.2.1:1234 is not a loopback address"}},
		{name: "wrong certificate", mode: "wrongcert", opts: []tether.Option{tether.WithAutoMTLS(), tether.WithStartTimeout(3 * time.Second)},
			kind: tether.ErrTLS, exitCode: -1, within: 5 * time.Second,
			contains: []string{"certificate"}},
		{name: "unasked certificate", mode: "unaskedcert", kind: tether.ErrNotPlugin, exitCode: -1,
			contains: []string{"the plugin wants TLS but the host did not offer automatic mutual TLS"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pe := launchMustFail(t, tc)
			if tc.exitCode >= 0 && (!pe.Exited || pe.ExitCode != tc.exitCode) {
				t.Errorf("Exited, ExitCode = %v, %d, want true, %d", pe.Exited, pe.ExitCode, tc.exitCode)
			}
			if tc.exitCode < 0 && pe.Exited && pe.ExitCode >= 0 {
				t.Errorf("Exited, ExitCode = %v, %d, want no exit status", pe.Exited, pe.ExitCode)
			}
			if pe.Kind != tc.kind {
				t.Errorf("Kind = %v, want %v", pe.Kind, tc.kind)
			}
		})
	}
}

// launchMustFail launches as tc says and checks the common promises: the
// error comes in bounded time, is a *PluginError matching tc.kind, its
// message has every substring, and no process is left.
func launchMustFail(t *testing.T, tc launchFailure) *tether.PluginError {
	t.Helper()
	err := launchErr(t, tc)
	var pe *tether.PluginError
	if !errors.As(err, &pe) {
		t.Fatalf("error %T is not a *PluginError: %v", err, err)
	}
	if pe.Plugin == "" {
		t.Error("PluginError.Plugin is empty")
	}
	return pe
}

func launchErr(t *testing.T, tc launchFailure) error {
	t.Helper()
	path := echoPath(t)
	if tc.path != nil {
		path = tc.path(t)
	}
	mark, opts := echoOpts(tc.mode, tc.opts...)
	within := tc.within
	if within == 0 {
		within = 10 * time.Second
	}
	start := time.Now()
	c, err := tether.Launch(t.Context(), path, opts...)
	elapsed := time.Since(start)
	if err == nil {
		c.Close()
		t.Fatal("Launch succeeded")
	}
	t.Logf("error after %v: %v", elapsed.Round(time.Millisecond), err)
	if elapsed > within {
		t.Errorf("Launch took %v to fail, want at most %v", elapsed, within)
	}
	if !errors.Is(err, tc.kind) {
		t.Errorf("errors.Is(err, %v) is false", tc.kind)
	}
	for _, s := range tc.contains {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("message lacks %q", s)
		}
	}
	noProcessLeft(t, mark)
	return err
}

func TestVersionMismatch(t *testing.T) {
	t.Parallel()
	cases := []struct {
		launchFailure
		iface        string
		host, plugin []int
	}{
		{launchFailure: launchFailure{name: "protocol", mode: "v3", opts: []tether.Option{tether.WithProtocolVersions(1, 2)},
			contains: []string{"incompatible versions", "protocol", "host accepts versions [1 2], plugin serves [3]"}},
			host: []int{1, 2}, plugin: []int{3}},
		{launchFailure: launchFailure{name: "interface", opts: []tether.Option{tether.WithInterface("echo", 7)},
			contains: []string{"incompatible versions", "interface echo", "host accepts versions [7], plugin serves [1 2]"}},
			iface: "echo", host: []int{7}, plugin: []int{1, 2}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.kind = tether.ErrIncompatibleVersion
			err := launchErr(t, tc.launchFailure)
			var ve *tether.VersionError
			if !errors.As(err, &ve) {
				t.Fatalf("error %T is not a *VersionError", err)
			}
			if ve.Plugin != "echoplugin" || ve.Interface != tc.iface ||
				!slices.Equal(ve.HostVersions, tc.host) || !slices.Equal(ve.PluginVersions, tc.plugin) {
				t.Errorf("VersionError = %+v, want interface %q, host %v, plugin %v", ve, tc.iface, tc.host, tc.plugin)
			}
		})
	}
}

func TestLaunchCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	mark, opts := echoOpts("hang")
	start := time.Now()
	_, err := tether.Launch(ctx, echoPath(t), opts...)
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("Launch returned %v after its context ended", elapsed)
	}
	if !errors.Is(err, tether.ErrStartTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Launch with an expired context: %v, want ErrStartTimeout wrapping context.DeadlineExceeded", err)
	}
	noProcessLeft(t, mark)
}

// TestPanicQuotedFirst: a plugin that logged many lines just before it
// panicked has the panic at the start of Output, and the message quotes it.
func TestPanicQuotedFirst(t *testing.T) {
	t.Parallel()
	c := launchEcho(t, "logpanic", tether.WithLogger(slog.New(slog.DiscardHandler)))
	echo, err := tether.Dispense(c, "echo", echov1.NewEchoClient)
	if err != nil {
		t.Fatal(err)
	}
	_, err = echo.Unary(t.Context(), &echov1.Message{Text: "boom"})
	var pe *tether.PluginError
	if !errors.As(err, &pe) || !errors.Is(err, tether.ErrPluginExited) {
		t.Fatalf("Unary on a plugin that panics: %v, want a *PluginError wrapping ErrPluginExited", err)
	}
	if !strings.HasPrefix(pe.Output, "panic: echoplugin: asked to panic") {
		t.Errorf("Output starts %q, want the panic first", pe.Output[:min(len(pe.Output), 120)])
	}
	if !strings.Contains(pe.Output, "handling the request") {
		t.Errorf("Output %q lacks the lines logged before the panic", pe.Output)
	}
	if !strings.Contains(err.Error(), `it printed: "panic: echoplugin: asked to panic`) {
		t.Errorf("message does not quote the panic first: %v", err)
	}
}
