//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRunRestartsKilledPlugin: of three plugins, the one killed with
// SIGKILL is back within its backoff with one restart; the others keep
// their pids.
func TestRunRestartsKilledPlugin(t *testing.T) {
	d := startDaemon(t, echoPlugin(t, "a", "")+echoPlugin(t, "b", "")+echoPlugin(t, "c", ""))
	st := d.waitStatus("all three running", func(st statusJSON) bool {
		return len(st.Plugins) == 3 && st.plugin(t, "a").State == "running" &&
			st.plugin(t, "b").State == "running" && st.plugin(t, "c").State == "running"
	})
	before := map[string]int32{"a": st.plugin(t, "a").Pid, "b": st.plugin(t, "b").Pid, "c": st.plugin(t, "c").Pid}
	killed := time.Now()
	if err := syscall.Kill(int(before["b"]), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	st = d.waitStatus("b restarted", func(st statusJSON) bool {
		b := st.plugin(t, "b")
		return b.State == "running" && b.Pid != before["b"] && b.Pid != 0
	})
	if back := time.Since(killed); back > 5*time.Second {
		t.Errorf("b was back %v after SIGKILL; its backoff is 200ms", back)
	}
	if b := st.plugin(t, "b"); b.Restarts != 1 || !strings.Contains(b.LastExit, "killed") {
		t.Errorf("b after one SIGKILL: restarts %d, last exit %q; want 1 restart, killed", b.Restarts, b.LastExit)
	}
	for _, n := range []string{"a", "c"} {
		if p := st.plugin(t, n); p.Pid != before[n] || p.Restarts != 0 {
			t.Errorf("%s: pid %d → %d, %d restarts; want it untouched", n, before[n], p.Pid, p.Restarts)
		}
	}
}

// TestRunFailedAfterBudget: a plugin that exits at once is restarted with
// growing delays, is failed once its budget is spent, stays failed, and
// tether restart gives it its budget back.
func TestRunFailedAfterBudget(t *testing.T) {
	d := startDaemon(t, echoPlugin(t, "ok", "")+
		"  - name: bad\n    path: "+echo(t)+"\n    env: {ECHO_MODE: exit3}\n"+
		"    backoff: {initial: 50ms, multiplier: 2}\n    budget: {restarts: 3, within: 1m}\n")
	d.waitStatus("bad failed", func(st statusJSON) bool { return st.plugin(t, "bad").State == "failed" })
	var delays []float64
	for _, e := range d.events("restarting", "bad") {
		delay, _ := e["delay_seconds"].(float64)
		delays = append(delays, delay)
	}
	if len(delays) != 3 {
		t.Fatalf("restart delays %v: want 3 restarts before failing", delays)
	}
	for i := 1; i < len(delays); i++ {
		if delays[i] <= delays[i-1] {
			t.Errorf("restart delays %v: want them to grow", delays)
		}
	}
	// Failed means left alone: no restart for a while.
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		if b := d.status().plugin(t, "bad"); b.State != "failed" || b.Restarts != 3 {
			t.Fatalf("a failed plugin was restarted on its own: state %s, %d restarts", b.State, b.Restarts)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// restart waits, and says that bad failed again.
	r := run(t, "", nil, "restart", "bad", "--socket", d.sock)
	if b := d.status().plugin(t, "bad"); r.code != 1 || b.State != "failed" || b.Restarts != 6 ||
		!strings.Contains(r.stderr, "tether: bad did not come back: state failed: ") || !strings.Contains(r.stderr, "exit status 3") {
		t.Errorf("restart of bad: exit %d, stderr %q, then state %s, %d restarts; want exit 1, failed again after 3 more restarts",
			r.code, r.stderr, b.State, b.Restarts)
	}
	if r := run(t, "", nil, "restart", "nosuch", "--socket", d.sock); r.code == 0 || !strings.Contains(r.stderr, `"nosuch"`) {
		t.Errorf("restart of an unknown plugin: exit %d, stderr %q; want an error naming it", r.code, r.stderr)
	}
}

// TestRunReloadRestartsOnlyChanged: five edits, each followed by SIGHUP
// within the quiet period, make one apply, which restarts only the plugin
// whose entry changed.
func TestRunReloadRestartsOnlyChanged(t *testing.T) {
	a := echoPlugin(t, "a", "")
	d := startDaemon(t, a+echoPlugin(t, "b", ""))
	st := d.waitStatus("both running", func(st statusJSON) bool {
		return st.plugin(t, "a").State == "running" && st.plugin(t, "b").State == "running"
	})
	pa, pb := st.plugin(t, "a").Pid, st.plugin(t, "b").Pid
	if st.Applies != 1 {
		t.Fatalf("applies at start: %d, want 1", st.Applies)
	}
	for i := range 5 {
		d.write(a + echoPlugin(t, "b", "    args: [\"edit-"+string(rune('1'+i))+"\"]\n"))
		d.signal(syscall.SIGHUP)
		time.Sleep(50 * time.Millisecond) // well within the 1 s quiet period
	}
	st = d.waitStatus("b restarted", func(st statusJSON) bool {
		b := st.plugin(t, "b")
		return b.State == "running" && b.Pid != pb
	})
	if st.Applies != 2 {
		t.Errorf("applies after five reloads in a burst: %d, want 2 (start, then one)", st.Applies)
	}
	if got := st.plugin(t, "a").Pid; got != pa {
		t.Errorf("a's pid changed from %d to %d although its entry did not", pa, got)
	}
	if n := len(d.events("started", "b")); n != 2 {
		t.Errorf("b was started %d times; want 2 (at start, then once for the burst)", n)
	}
}

// TestRunBadManifestOnReload: a reload of a manifest with an unknown field
// is refused with an error naming the file, plugin and field; the running
// set is kept.
func TestRunBadManifestOnReload(t *testing.T) {
	d := startDaemon(t, echoPlugin(t, "a", ""))
	st := d.waitStatus("a running", func(st statusJSON) bool { return st.plugin(t, "a").State == "running" })
	pid := st.plugin(t, "a").Pid
	d.write(echoPlugin(t, "a", "    restartt: always\n"))
	d.signal(syscall.SIGHUP)
	st = d.waitStatus("the reload refused", func(st statusJSON) bool { return st.LastReloadError != "" })
	for _, want := range []string{d.manifest, `plugin "a"`, "restartt"} {
		if !strings.Contains(st.LastReloadError, want) {
			t.Errorf("reload error %q does not name %q", st.LastReloadError, want)
		}
	}
	if !strings.Contains(d.stderr.String(), "restartt") {
		t.Errorf("the daemon did not log the refused reload:\n%s", d.stderr)
	}
	if a := st.plugin(t, "a"); a.Pid != pid || a.State != "running" || st.Applies != 1 {
		t.Errorf("after a refused reload: a pid %d → %d, state %s, applies %d; want the running set kept", pid, a.Pid, a.State, st.Applies)
	}
}

// TestRunRefusesSecondDaemon: a second tether run on the same socket exits
// 2 naming the running one, which keeps running.
func TestRunRefusesSecondDaemon(t *testing.T) {
	d := startDaemon(t, echoPlugin(t, "a", ""))
	d.waitStatus("a running", func(st statusJSON) bool { return st.plugin(t, "a").State == "running" })
	r := run(t, "", nil, "run", d.manifest)
	if r.code != 2 || !strings.Contains(r.stderr, "another tether run") {
		t.Errorf("second tether run: exit %d, stderr %q; want 2, another tether run answers", r.code, r.stderr)
	}
	d.status() // the first still answers
}

// TestLogsReadsRotatedFiles: tether logs prints the log files of the data
// directory through the control socket, oldest rotated file first, and
// -n the last lines only.
func TestLogsReadsRotatedFiles(t *testing.T) {
	d := startDaemon(t, echoPlugin(t, "a", ""))
	logs := filepath.Join(filepath.Dir(d.sock), "logs")
	if err := os.MkdirAll(logs, 0o700); err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(logs, "ghost.stderr.log")
	for name, text := range map[string]string{base + ".2": "l1\nl2\n", base + ".1": "l3\n", base: "l4\nl5\n"} {
		if err := os.WriteFile(name, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if r := run(t, "", nil, "logs", "ghost", "--socket", d.sock); r.code != 0 || r.stdout != "l1\nl2\nl3\nl4\nl5\n" {
		t.Errorf("logs ghost: exit %d, %q; stderr %q", r.code, r.stdout, r.stderr)
	}
	if r := run(t, "", nil, "logs", "ghost", "--tail", "2", "--socket", d.sock); r.code != 0 || r.stdout != "l4\nl5\n" {
		t.Errorf("logs ghost --tail 2: exit %d, %q; stderr %q", r.code, r.stdout, r.stderr)
	}
	// -n, its old name, still works, with a note.
	if r := run(t, "", nil, "logs", "ghost", "-n", "2", "--socket", d.sock); r.code != 0 || r.stdout != "l4\nl5\n" ||
		!strings.Contains(r.stderr, "use --tail N") {
		t.Errorf("logs ghost -n 2: exit %d, %q; stderr %q; want the last 2 lines and a note to use --tail", r.code, r.stdout, r.stderr)
	}
	if r := run(t, "", nil, "logs", "nosuch", "--socket", d.sock); r.code == 0 || !strings.Contains(r.stderr, `"nosuch"`) {
		t.Errorf("logs of an unknown plugin: exit %d, stderr %q; want an error naming it", r.code, r.stderr)
	}
}
