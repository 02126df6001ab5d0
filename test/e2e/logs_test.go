package e2e_test

import (
	"bufio"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/plugintest"
	"github.com/tetherplug/tether/tethertest"
)

// TestLogRelevelling: each line a plugin writes on stderr becomes a record
// of the host's logger with plugin=NAME: slog JSON and hclog JSON keep
// their level, message and attributes; plain lines are debug.
func TestLogRelevelling(t *testing.T) {
	t.Parallel()
	log, rec := newRecorder()
	c := launchEcho(t, "logs", tether.WithLogger(log.With("host", "h1")), tether.WithName("logger"))
	echo, _ := tether.Dispense(c, "echo", echov1.NewEchoClient)
	if _, err := echo.Unary(t.Context(), &echov1.Message{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "all three lines logged", func() bool {
		_, a := rec.find("slog line")
		_, b := rec.find("hclog line")
		_, c := rec.find("plain line")
		return a && b && c
	})

	cases := []struct {
		msg   string
		level slog.Level
		attrs map[string]string
	}{
		{"slog line", slog.LevelWarn, map[string]string{"count": "7", "who": "echo"}},
		{"hclog line", slog.LevelError, map[string]string{"module": "echo.sub", "path": "/x"}},
		{"plain line", slog.LevelDebug, nil},
	}
	for _, tc := range cases {
		r, _ := rec.find(tc.msg)
		if r.Msg != tc.msg || r.Level != tc.level {
			t.Errorf("%q logged as %q at %v, want %v", tc.msg, r.Msg, r.Level, tc.level)
		}
		if r.Attrs["plugin"] != "logger" || r.Attrs["host"] != "h1" {
			t.Errorf("%q lacks plugin=logger or the host logger's own attributes: %v", tc.msg, r.Attrs)
		}
		for k, v := range tc.attrs {
			if r.Attrs[k] != v {
				t.Errorf("%q: attribute %s = %q, want %q", tc.msg, k, r.Attrs[k], v)
			}
		}
		for _, k := range []string{"time", "level", "msg", "@timestamp", "@level", "@message"} {
			if _, ok := r.Attrs[k]; ok {
				t.Errorf("%q keeps the plugin's %q as an attribute", tc.msg, k)
			}
		}
	}
}

// TestPluginDiesWithHost: when its host is killed with SIGKILL, a plugin
// exits within 2 s and its socket directory goes with it.
func TestPluginDiesWithHost(t *testing.T) {
	t.Parallel()
	host := exec.Command(tethertest.Build(t, plugintest.HostProg), echoPath(t))
	host.Stderr = os.Stderr
	out, err := host.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	defer host.Wait()
	defer host.Process.Kill()

	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the plugin's pid from the host: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || pid <= 0 {
		t.Fatalf("host printed %q, want the plugin's pid", line)
	}
	dir := envOf(t, pid, tether.EnvUnixSocketDir)
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("socket directory: %v", err)
	}

	if err := host.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	eventually(t, 2*time.Second, "plugin still running 2 s after its host was killed", func() bool { return exited(pid) })
	t.Logf("plugin exited %v after its host was killed", time.Since(killed).Round(time.Millisecond))
	eventually(t, time.Second, "socket directory "+dir+" left behind by the dead plugin", func() bool {
		_, err := os.Stat(dir)
		return os.IsNotExist(err)
	})
}

// TestWithStderrCopiesRawLines: WithStderr receives the plugin's stderr
// lines as printed, newline included, while the logger still gets them
// re-levelled.
func TestWithStderrCopiesRawLines(t *testing.T) {
	t.Parallel()
	log, rec := newRecorder()
	var raw syncBuffer
	c := launchEcho(t, "logs", tether.WithLogger(log), tether.WithStderr(&raw))
	echo, _ := tether.Dispense(c, "echo", echov1.NewEchoClient)
	if _, err := echo.Unary(t.Context(), &echov1.Message{}); err != nil {
		t.Fatal(err)
	}
	want := `"@message":"hclog line"`
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(raw.String(), "plain line\n") || !strings.Contains(raw.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("WithStderr got %q, want the raw hclog and plain lines", raw.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, ok := rec.find("plain line"); !ok {
		t.Error("the logger no longer gets the lines")
	}
}
