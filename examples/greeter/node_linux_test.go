//go:build linux

package greeter_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tetherplug/tether/internal/plugintest"
	"github.com/tetherplug/tether/tethertest"
)

// `tether ls` on a directory holding the Node.js plugin (a symbolic link to
// it, as a plugin folder would) lists it with its interface versions.
func TestNodeTetherLs(t *testing.T) {
	plugin := nodePlugin(t)
	dir := t.TempDir()
	if err := os.Symlink(plugin, filepath.Join(dir, "greeter-node")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, tethertest.Build(t, "github.com/tetherplug/tether/cmd/tether"), "ls", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("tether ls: %v\n%s", err, out)
	}
	if got := strings.Fields(string(out)); strings.Join(got, " ") != "greeter-node greeter v1 ok" {
		t.Errorf("tether ls printed %q, want one line: greeter-node  greeter v1  ok", out)
	}
}

// `tether call` reaches the Node.js plugin, which serves no reflection,
// from the greeter's .proto file; without the file it says what to pass.
func TestNodeTetherCallWithProtoFile(t *testing.T) {
	plugin := nodePlugin(t)
	cli := tethertest.Build(t, "github.com/tetherplug/tether/cmd/tether")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, cli, "call", "--import-path", "proto", "--proto", "greeter/v1/greeter.proto",
		plugin, "Greet", `{"name": "Ada"}`).CombinedOutput()
	if err != nil {
		t.Fatalf("tether call --proto: %v\n%s", err, out)
	}
	if got := strings.Join(strings.Fields(string(out)), " "); got != `{ "message": "Hello from Node.js, Ada!" }` {
		t.Errorf("tether call --proto printed %q", out)
	}
	cmd := exec.CommandContext(ctx, cli, "call", plugin, "Greet", `{"name": "Ada"}`)
	out, err = cmd.CombinedOutput()
	if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 2 || !strings.Contains(string(out), "pass its .proto files with --proto") {
		t.Errorf("tether call without --proto: %v (want exit status 2 naming --proto)\n%s", err, out)
	}
}

// A host killed with SIGKILL leaves no node process behind, whether it
// launched the plugin itself or through a shell script that does not exec
// it (then the parent-death signal reaches the shell, not node, and only
// the end of the host pipe tells the plugin its host is gone).
func TestNodePluginDiesWithHost(t *testing.T) {
	plugin := nodePlugin(t)
	wrapper := filepath.Join(t.TempDir(), "wrapped-greeter-node")
	script := fmt.Sprintf("#!/bin/sh\n%q \"$@\"\nexit $?\n", plugin)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, program string }{{"direct", plugin}, {"through a shell", wrapper}} {
		t.Run(tc.name, func(t *testing.T) { killHostOfNodePlugin(t, tc.program) })
	}
}

// killHostOfNodePlugin runs hostprog on program, kills it with SIGKILL once
// the plugin is up, and fails unless every process the host started
// (marked in their environment) is gone 5 s later (a plugin that did not
// watch the host pipe would never go).
func killHostOfNodePlugin(t *testing.T, program string) {
	mark := fmt.Sprintf("greeter-node-%d-%s", os.Getpid(), t.Name())
	host := exec.Command(tethertest.Build(t, plugintest.HostProg), program)
	host.Env = append(os.Environ(), "TETHER_TEST_MARK="+mark)
	host.Stderr = os.Stderr
	stdout, err := host.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = host.Process.Kill()
		_ = host.Wait()
		for _, pid := range plugintest.MarkedProcesses(mark) { // only when the test failed
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	pidc := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		pidc <- strings.TrimSpace(line)
	}()
	select {
	case line := <-pidc:
		if _, err := strconv.Atoi(line); err != nil {
			t.Fatalf("the host printed %q, want the plugin's pid", line)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the host printed no plugin pid within 30 s")
	}
	var nodes []int
	for _, pid := range plugintest.MarkedProcesses(mark) {
		if comm, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "comm")); strings.TrimSpace(string(comm)) == "node" {
			nodes = append(nodes, pid)
		}
	}
	if len(nodes) != 1 {
		t.Fatalf("node processes of the host: %v, want one", nodes)
	}
	if err := host.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	plugintest.Eventually(t, 5*time.Second, "the node plugin gone 5 s after its host was killed", func() bool {
		return plugintest.Exited(nodes[0]) && len(plugintest.MarkedProcesses(mark)) == 0
	})
}

// The Node.js plugin run by hand as a host would: it ignores SIGINT, stops
// on SIGTERM with exit status 0, and removes its socket and the directory
// the host handed it.
func TestNodeSignalsAndCleanup(t *testing.T) {
	plugin := nodePlugin(t)
	dir, err := os.MkdirTemp("", "tether-node-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	cmd := exec.Command(plugin)
	cmd.Env = append(os.Environ(), "TETHER_PLUGIN_MAGIC_COOKIE=d5e9a0c1f4b7tether", "PLUGIN_PROTOCOL_VERSIONS=1",
		"PLUGIN_UNIX_SOCKET_DIR="+dir, "TETHER_OWN_SOCKET_DIR="+dir)
	var stderr plugintest.SyncBuffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	linec := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		linec <- line
		exited <- cmd.Wait()
	}()
	var line string
	select {
	case line = <-linec:
	case <-time.After(30 * time.Second):
		t.Fatal("no handshake line within 30 s")
	}
	fields := strings.Split(strings.TrimSpace(line), "|")
	if len(fields) != 6 || fields[0] != "1" || fields[1] != "1" || fields[2] != "unix" || filepath.Dir(fields[3]) != dir || fields[4] != "grpc" {
		t.Fatalf("handshake line %q, want 1|1|unix|%s/...|grpc|", line, dir)
	}
	if _, err := os.Stat(fields[3]); err != nil {
		t.Fatalf("socket: %v", err)
	}
	// SIGINT first: a plugin that did not ignore it would die of it before
	// the SIGTERM arrives, with no exit status.
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("plugin exit after SIGINT then SIGTERM: %v, want status 0\n%s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("plugin still running 10 s after SIGTERM")
	}
	if !strings.Contains(stderr.String(), `"msg":"plugin received a signal; shutting down"`) {
		t.Errorf("stderr %q does not log the signal", stderr.String())
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("socket directory %s still there after exit (stat: %v)", dir, err)
	}
}
