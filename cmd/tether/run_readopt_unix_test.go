//go:build unix

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/tetherplug/tether/internal/plugintest"
)

// TestRunKilledDaemonReadopts is issue 9's host-death test: `tether run` is
// killed with SIGKILL. The plugin marked to outlive it keeps its pid and
// goes on printing; the other is gone within 2 s. A new `tether run` on
// the same manifest re-adopts the first without a restart (same pid,
// calls work) and its log file has every line the plugin printed, those
// printed while no daemon ran included; the new daemon's logger gets the
// new lines.
func TestRunKilledDaemonReadopts(t *testing.T) {
	d := startDaemon(t, echoPlugin(t, "keep", "    outlive: true\n    env: {ECHO_MODE: chatty}\n")+echoPlugin(t, "drop", ""))
	st := d.waitStatus("both running", func(st statusJSON) bool {
		return st.plugin(t, "keep").State == "running" && st.plugin(t, "drop").State == "running"
	})
	keep, drop := int(st.plugin(t, "keep").Pid), int(st.plugin(t, "drop").Pid)
	target := "run://keep?socket=" + d.sock
	requireOK(t, run(t, "", nil, "call", target, "tether.echo.v1.Echo/Unary", `{"text":"chatter"}`))
	logFile := filepath.Join(filepath.Dir(d.manifest), "state", "logs", "keep.stderr.log")
	hasLine := func(n int) func() bool {
		return func() bool {
			b, _ := os.ReadFile(logFile)
			return bytes.Contains(b, []byte("stderr line "+strconv.Itoa(n)+"\n"))
		}
	}
	waitFor(t, hasLine(3))

	d.kill9()
	killed := time.Now()
	// Exited, not reaped: the orphan is reaped by pid 1, which may take its
	// time (a second measured here); what counts is that it stopped.
	waitFor(t, func() bool { return plugintest.Exited(drop) })
	if gone := time.Since(killed); gone > 2*time.Second {
		t.Errorf("the plugin not marked to outlive its host was gone %v after the host's SIGKILL, want within 2 s", gone)
	}
	if syscall.Kill(keep, 0) != nil {
		t.Fatal("the plugin marked to outlive its host died with it")
	}
	time.Sleep(300 * time.Millisecond) // it prints with no daemon to read it

	d2 := d.again("-v")
	st = d2.waitStatus("keep adopted, drop started anew", func(st statusJSON) bool {
		return st.plugin(t, "keep").State == "running" && st.plugin(t, "drop").State == "running"
	})
	if k := st.plugin(t, "keep"); int(k.Pid) != keep || !k.Adopted || k.Restarts != 0 {
		t.Fatalf("keep after the host's restart: pid %d (was %d), adopted %v, %d restarts; want re-adopted as it was",
			k.Pid, keep, k.Adopted, k.Restarts)
	}
	requireOK(t, run(t, "", nil, "call", target, "tether.echo.v1.Echo/Unary", `{"text":"still here"}`))
	b, _ := os.ReadFile(logFile)
	last := bytes.Count(b, []byte("\n")) + 20
	waitFor(t, hasLine(last))
	b, _ = os.ReadFile(logFile)
	for i := 0; i <= last; i++ {
		if !bytes.Contains(b, []byte("stderr line "+strconv.Itoa(i)+"\n")) {
			t.Fatalf("line %d of %d is missing from %s", i, last, logFile)
		}
	}
	if !bytes.Contains([]byte(d2.stderr.String()), []byte("stderr line "+strconv.Itoa(last))) {
		t.Errorf("the new daemon's logger did not get the plugin's new lines")
	}
	// The outliving plugin is the daemon's to stop now: drop it from the
	// manifest, or SIGTERM would leave it running.
	d2.write(echoPlugin(t, "drop", ""))
	d2.signal(syscall.SIGHUP)
	waitFor(t, func() bool { return syscall.Kill(keep, 0) != nil })
}
