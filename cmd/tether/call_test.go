package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tetherplug/tether/tethertest"
)

func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var msgs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("output line %q is not JSON: %v", line, err)
		}
		msgs = append(msgs, m)
	}
	return msgs
}

func TestCallGreet(t *testing.T) {
	for _, name := range []string{"greeter.v1.Greeter/Greet", "greeter.v1.Greeter.Greet", "/greeter.v1.Greeter/Greet", "Greeter/Greet"} {
		r := run(t, "", greeterEnv, "call", greeter(t), name, `{"name":"Ada"}`)
		requireOK(t, r)
		var resp struct{ Message string }
		if err := json.Unmarshal([]byte(r.stdout), &resp); err != nil {
			t.Fatalf("%s: output is not JSON: %v\n%s", name, err, r.stdout)
		}
		if resp.Message != "Hello, Ada!" {
			t.Errorf("%s: message %q, want Hello, Ada!", name, resp.Message)
		}
	}
	// The request may come on stdin, spread over lines.
	r := run(t, "{\n  \"name\": \"Grace\"\n}\n", greeterEnv, "call", greeter(t), "greeter.v1.Greeter/Greet", "-")
	requireOK(t, r)
	if !strings.Contains(r.stdout, "Hello, Grace!") {
		t.Errorf("stdin request: %s", r.stdout)
	}
}

func TestCallServerStream(t *testing.T) {
	r := run(t, "", nil, "call", echo(t), "tether.echo.v1.Echo/ServerStream", `{"text":"hi","count":3}`)
	requireOK(t, r)
	msgs := jsonLines(t, r.stdout)
	if len(msgs) != 3 {
		t.Fatalf("%d lines, want 3:\n%s", len(msgs), r.stdout)
	}
	for _, m := range msgs {
		if m["text"] != "hi" {
			t.Errorf("message %v, want text hi", m)
		}
	}
}

func TestCallClientStream(t *testing.T) {
	r := run(t, "{\"text\":\"a\"}\n{\"text\":\"b\"}\n{\"text\":\"c\"}\n", nil, "call", echo(t), "tether.echo.v1.Echo/ClientStream")
	requireOK(t, r)
	msgs := jsonLines(t, r.stdout)
	if len(msgs) != 1 || msgs[0]["text"] != "abc" || msgs[0]["count"] != 3.0 {
		t.Errorf("got %v, want one message with text abc and count 3", msgs)
	}
}

// startCLI starts the CLI with pipes on stdin and stdout, for tests that
// talk to it while it runs. The returned wait reaps it within a bound.
func startCLI(t *testing.T, mark, tmp string, env []string, args ...string) (cmd *exec.Cmd, stdin io.WriteCloser, stdout *bufio.Scanner, wait func() (int, string)) {
	t.Helper()
	bin := cli(t) // built first: a build slowed by a loaded machine must not eat the run's bound
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	cmd = exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(cliEnv(mark, tmp), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cancel)
	return cmd, in, bufio.NewScanner(out), func() (int, string) {
		_ = cmd.Wait()
		if ctx.Err() != nil {
			t.Fatalf("the CLI did not exit within 30 s; stderr:\n%s", stderr.String())
		}
		return cmd.ProcessState.ExitCode(), stderr.String()
	}
}

// TestCallBidi: each line sent gets its echo back before the next is sent.
func TestCallBidi(t *testing.T) {
	mark, tmp := newMark(t), t.TempDir()
	_, in, out, wait := startCLI(t, mark, tmp, nil, "call", echo(t), "tether.echo.v1.Echo/Bidi")
	for _, text := range []string{"one", "two", "three"} {
		if _, err := io.WriteString(in, `{"text":"`+text+`"}`+"\n"); err != nil {
			t.Fatal(err)
		}
		if !out.Scan() {
			t.Fatalf("no echo of %s", text)
		}
		if msgs := jsonLines(t, out.Text()); msgs[0]["text"] != text {
			t.Fatalf("echo %v, want %s", msgs[0], text)
		}
	}
	in.Close()
	if out.Scan() {
		t.Errorf("unexpected output %q", out.Text())
	}
	if code, stderr := wait(); code != 0 {
		t.Fatalf("exit status %d: %s", code, stderr)
	}
	assertNoneLeft(t, mark, tmp)
}

// TestCallExitStatus: call's exit status tells failures apart, as
// docs/cli.md "Exit status" lists them: 2 for a mistake in the command line
// or the request, 64 plus the code for a gRPC status, 1 for a plugin that
// did not load or died in the call.
func TestCallExitStatus(t *testing.T) {
	cases := []struct {
		name string
		code int
		args []string
		want []string
	}{
		{"unknown method", 2, []string{"tether.echo.v1.Echo/Nope"}, []string{`no method "tether.echo.v1.Echo/Nope"`, "tether.echo.v1.Echo/ServerStream", "tether.echo.v1.Echo/Bidi"}},
		{"unknown service", 2, []string{"nope.Svc/Nope", "{}"}, []string{`no method "nope.Svc/Nope"`, "tether.echo.v1.Echo/Unary", "grpc.health.v1.Health/Check"}},
		{"unknown bare method", 2, []string{"Nope"}, []string{`no method "Nope"`, "tether.echo.v1.Echo/Unary"}},
		{"ambiguous", 2, []string{"ServerReflectionInfo"}, []string{`method "ServerReflectionInfo" is ambiguous`,
			"grpc.reflection.v1.ServerReflection/ServerReflectionInfo", "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"}},
		{"status", 64 + 5, []string{"grpc.health.v1.Health/Check", `{"service":"nope"}`}, []string{"code NotFound", "unknown service"}},
		{"deadline", 64 + 4, []string{"tether.echo.v1.Echo/Unary", `{"delay_ms":60000}`, "--timeout", "3s"}, []string{"code DeadlineExceeded", "--timeout"}},
		{"bad JSON", 2, []string{"tether.echo.v1.Echo/Unary", `{"nope":1}`}, []string{"not a tether.echo.v1.Message", "nope"}},
		{"not JSON", 2, []string{"Bidi", `{"text":`}, []string{"request 1: not JSON"}},
		{"two requests", 2, []string{"tether.echo.v1.Echo/Unary", `{} {}`}, []string{"exactly one request"}},
		{"bad flag", 2, []string{"Unary", "--no-such-flag"}, []string{"unknown flag: --no-such-flag"}},
		{"bad header", 2, []string{"Unary", "-H", "no-colon"}, []string{`-H "no-colon": want 'KEY: VALUE'`}},
		{"bad cookie", 2, []string{"Unary", "--cookie", "nokey"}, []string{"KEY=VALUE"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := run(t, "", nil, append([]string{"call", echo(t)}, c.args...)...)
			if r.code != c.code {
				t.Errorf("exit status %d, want %d; stderr:\n%s", r.code, c.code, r.stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
		})
	}
	for _, c := range []struct {
		name string
		args []string
		code int
	}{
		{"too many arguments", []string{"call", "a", "b", "c", "d"}, 2},
		{"no arguments", []string{"call"}, 2},
		{"bad target", []string{"call", "nosuchscheme://x", "M"}, 2},
		{"tcp without TLS flags", []string{"call", "tcp://127.0.0.1:1", "M"}, 2},
		{"not a plugin", []string{"call", "/bin/true", "M"}, 1},
	} {
		r := run(t, "", nil, c.args...)
		if r.code != c.code {
			t.Errorf("%s: exit status %d, want %d; stderr:\n%s", c.name, r.code, c.code, r.stderr)
		}
	}
	r := run(t, "", []string{"ECHO_MODE=panic"}, "call", echo(t), "tether.echo.v1.Echo/Unary", "{}")
	if r.code != 1 || !strings.Contains(r.stderr, "plugin exited") || !strings.Contains(r.stderr, "asked to panic") {
		t.Errorf("plugin that dies in a call: status %d, stderr %q", r.code, r.stderr)
	}
}

// TestCallDriverFingerprint: the driver example's endless Fingerprint
// stream prints its first message at once and runs until interrupted.
func TestCallDriverFingerprint(t *testing.T) {
	driver := tethertest.Build(t, "github.com/tetherplug/tether/examples/driver/plugin")
	mark, tmp := newMark(t), t.TempDir()
	cmd, in, out, wait := startCLI(t, mark, tmp, nil, "call", driver, "driver.v1.Driver/Fingerprint", "{}")
	in.Close()
	if !out.Scan() {
		code, stderr := wait()
		t.Fatalf("no fingerprint; exit status %d, stderr:\n%s", code, stderr)
	}
	if m := jsonLines(t, out.Text())[0]; m["health"] == nil || m["attributes"] == nil {
		t.Errorf("fingerprint %v lacks health or attributes", m)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	for out.Scan() {
	}
	if code, stderr := wait(); code != 130 {
		t.Errorf("exit status %d, want 130; stderr:\n%s", code, stderr)
	}
	// The driver keeps its task state directory on purpose.
	assertNoneLeft(t, mark, tmp, "tether-driver-"+strconv.Itoa(os.Getuid()))
}
