//go:build unix

package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// badPlugin is a manifest entry for an echo plugin that exits 3 at once,
// failed after one restart.
func badPlugin(t *testing.T, name string) string {
	return "  - name: " + name + "\n    path: " + echo(t) + "\n    env: {ECHO_MODE: exit3}\n" +
		"    backoff: {initial: 50ms}\n    budget: {restarts: 1, within: 1m}\n"
}

// TestStatusSaysWhy: the status table has a REASON column (launched for a
// running plugin, the last error for a failed one), and status NAME shows
// one plugin's detail with its last log lines.
func TestStatusSaysWhy(t *testing.T) {
	d := startDaemon(t, echoPlugin(t, "ok", "")+badPlugin(t, "bad"))
	d.waitStatus("ok running, bad failed", func(st statusJSON) bool {
		return st.plugin(t, "ok").State == "running" && st.plugin(t, "bad").State == "failed"
	})
	r := run(t, "", nil, "status", "--socket", d.sock)
	requireOK(t, r)
	lines := strings.Split(r.stdout, "\n")
	if len(lines) < 3 || !strings.HasSuffix(strings.TrimSpace(lines[0]), "REASON") {
		t.Fatalf("status table:\n%s\nwant a REASON column", r.stdout)
	}
	for _, l := range lines[1:3] {
		switch f := strings.Fields(l); f[0] {
		case "ok":
			if f[len(f)-1] != "launched" {
				t.Errorf("ok's row %q: want the reason launched", l)
			}
		case "bad":
			if !strings.Contains(l, "failed") || !strings.Contains(l, "exit status 3") {
				t.Errorf("bad's row %q: want failed, and its last error with exit status 3", l)
			}
		}
	}

	r = run(t, "", nil, "status", "bad", "--socket", d.sock)
	requireOK(t, r)
	for _, want := range []string{"name:       bad\n", "state:      failed since ", "reason:     plugin bad: ",
		"restarts:   1\n", "last exit:  exit status 3\n", "pid:        -\n",
		"\nlast lines of stderr (tether logs bad):\n  echoplugin: something went wrong\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("status bad:\n%s\nwant %q", r.stdout, want)
		}
	}

	r = run(t, "", nil, "status", "ok", "--json", "--socket", d.sock)
	requireOK(t, r)
	var ok instanceJSON
	if err := json.Unmarshal([]byte(r.stdout), &ok); err != nil || ok.Name != "ok" || ok.Reason != "launched" || ok.Pid == 0 {
		t.Errorf("status ok --json: %v\n%s\nwant ok's object, reason launched", err, r.stdout)
	}

	r = run(t, "", nil, "status", "nosuch", "--socket", d.sock)
	if want := `has no plugin named "nosuch" (its plugins: bad, ok)`; r.code != 1 || !strings.Contains(r.stderr, want) {
		t.Errorf("status nosuch: exit %d, stderr %q; want 1, %q", r.code, r.stderr, want)
	}
}

// TestNoDaemonSaysWhichSocket: every command of the control socket that
// finds no daemon says which socket it tried, where that path came from,
// and how to name another.
func TestNoDaemonSaysWhichSocket(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "none.sock")
	stale := filepath.Join(dir, "stale.sock")
	lis, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	lis.(*net.UnixListener).SetUnlinkOnClose(false)
	lis.Close() // the file stays, nobody listens: a daemon that was killed
	hint := `; start one with "tether run FILE.yaml", or name its socket with --socket PATH or TETHER_RUN_SOCKET=PATH` + "\n"
	for _, args := range [][]string{{"status"}, {"status", "a"}, {"logs", "a"}, {"restart", "a"}, {"reload"}, {"stop"}} {
		r := run(t, "", nil, append(args, "--socket", missing)...)
		want := "tether: no tether run daemon answers at " + missing + " (socket from --socket): no such file or directory" + hint
		if r.code != 1 || r.stderr != want {
			t.Errorf("%v --socket MISSING: exit %d, stderr\n%q\nwant 1,\n%q", args, r.code, r.stderr, want)
		}
		r = run(t, "", []string{"TETHER_RUN_SOCKET=" + stale}, args...)
		want = "tether: no tether run daemon answers at " + stale + " (socket from $TETHER_RUN_SOCKET): connect: connection refused" + hint
		if r.code != 1 || r.stderr != want {
			t.Errorf("%v with a stale socket: exit %d, stderr\n%q\nwant 1,\n%q", args, r.code, r.stderr, want)
		}
		r = run(t, "", []string{"TETHER_RUN_SOCKET=", "XDG_STATE_HOME=" + dir}, args...)
		want = "tether: no tether run daemon answers at " + filepath.Join(dir, "tether", "control.sock") +
			" (socket from the default): no such file or directory" + hint
		if r.code != 1 || r.stderr != want {
			t.Errorf("%v with the default socket: exit %d, stderr\n%q\nwant 1,\n%q", args, r.code, r.stderr, want)
		}
	}
}

// TestLogsOfNetworkPlugin: a network plugin has no local logs, and logs
// says so instead of printing nothing.
func TestLogsOfNetworkPlugin(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	d := startDaemon(t, "  - name: remote\n    target: tcp://"+addr+"\n    insecure: true\n")
	r := run(t, "", nil, "logs", "remote", "--socket", d.sock)
	want := `plugin "remote" is a network plugin (tcp://` + addr + `): it has no local logs; read them where it runs` + "\n"
	if r.code != 1 || !strings.HasSuffix(r.stderr, want) || r.stdout != "" {
		t.Errorf("logs remote: exit %d, stdout %q, stderr %q; want 1 and %q", r.code, r.stdout, r.stderr, want)
	}
	r = run(t, "", nil, "status", "remote", "--socket", d.sock)
	if !strings.Contains(r.stdout, "no local logs: a network plugin logs where it runs\n") {
		t.Errorf("status remote:\n%s\nwant it to say there are no local logs", r.stdout)
	}
}

// TestRestartWaitsUntilReady: restart returns once the new incarnation is
// ready, so status right after shows it running; --no-wait returns at once.
func TestRestartWaitsUntilReady(t *testing.T) {
	d := startDaemon(t, echoPlugin(t, "a", ""))
	old := d.waitStatus("a running", func(st statusJSON) bool { return st.plugin(t, "a").State == "running" }).plugin(t, "a")
	r := run(t, "", nil, "restart", "a", "--socket", d.sock)
	requireOK(t, r)
	now := d.status().plugin(t, "a")
	if want := fmt.Sprintf("a: running, pid %d\n", now.Pid); r.stdout != want || now.State != "running" || now.Pid == old.Pid {
		t.Errorf("restart a: %q, then state %s pid %d (was %d); want %q, a new pid running", r.stdout, now.State, now.Pid, old.Pid, want)
	}
	r = run(t, "", nil, "restart", "a", "--no-wait", "--socket", d.sock)
	if r.code != 0 || r.stdout != "restarting a\n" {
		t.Errorf("restart a --no-wait: exit %d, %q", r.code, r.stdout)
	}
	if r = run(t, "", nil, "restart", "a", "--timeout", "0s", "--socket", d.sock); r.code != 1 || !strings.Contains(r.stderr, "--timeout 0s: want a positive duration") {
		t.Errorf("restart --timeout 0s: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestReloadSaysWhatChanged: tether reload applies the manifest as SIGHUP
// does and says what it adds, removes and changes; a bad manifest is
// refused with its error, shown also in the REASON of the plugin at fault.
func TestReloadSaysWhatChanged(t *testing.T) {
	d := startDaemon(t, echoPlugin(t, "a", "")+echoPlugin(t, "b", ""))
	d.waitStatus("a and b running", func(st statusJSON) bool {
		return st.plugin(t, "a").State == "running" && st.plugin(t, "b").State == "running"
	})
	r := run(t, "", nil, "reload", "--socket", d.sock)
	if r.code != 0 || r.stdout != "reloaded: no change (2 plugins unchanged)\n" {
		t.Errorf("reload of the same manifest: exit %d, %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	d.write(echoPlugin(t, "a", "    args: [edited]\n") + echoPlugin(t, "c", ""))
	r = run(t, "", nil, "reload", "--socket", d.sock)
	if want := "reloaded: added c; removed b; changed a; 0 unchanged; applied once no reload comes for 1s\n"; r.code != 0 || r.stdout != want {
		t.Errorf("reload: exit %d, %q, stderr %q; want %q", r.code, r.stdout, r.stderr, want)
	}
	d.waitStatus("c running, b gone", func(st statusJSON) bool {
		return len(st.Plugins) == 2 && st.Plugins[1].Name == "c" && st.Plugins[1].State == "running"
	})
	d.write(echoPlugin(t, "a", "    args: [edited]\n") + echoPlugin(t, "c", "    restartt: always\n"))
	r = run(t, "", nil, "reload", "--socket", d.sock)
	want := "tether: reload refused, the running set is kept: manifest " + d.manifest + `: plugin "c": field restartt: unknown field "restartt"`
	if r.code != 1 || !strings.HasPrefix(r.stderr, want) {
		t.Errorf("reload of a bad manifest: exit %d, stderr %q; want 1, %q", r.code, r.stderr, want)
	}
	if c := d.status().plugin(t, "c"); !strings.HasPrefix(c.Reason, "reload refused: manifest ") || c.State != "running" {
		t.Errorf("c after the refused reload: state %s, reason %q; want running, reload refused", c.State, c.Reason)
	}
}

// TestStopWaitsForExit: tether stop stops the daemon as SIGTERM does and
// returns once its process has exited, its socket removed and its plugins
// stopped.
func TestStopWaitsForExit(t *testing.T) {
	for _, noWait := range []bool{false, true} {
		d := startDaemon(t, echoPlugin(t, "a", ""))
		st := d.waitStatus("a running", func(st statusJSON) bool { return st.plugin(t, "a").State == "running" })
		args := []string{"stop", "--socket", d.sock}
		want := fmt.Sprintf("stopped tether run (pid %d)\n", st.Pid)
		if noWait {
			args = append(args, "--no-wait")
			want = fmt.Sprintf("stopping tether run (pid %d)\n", st.Pid)
		}
		r := run(t, "", nil, args...)
		d.stopped = true
		if r.code != 0 || r.stdout != want || int(st.Pid) != d.cmd.Process.Pid {
			t.Errorf("%v: exit %d, %q, stderr %q; want %q", args, r.code, r.stdout, r.stderr, want)
		}
		bound := 15 * time.Second
		if !noWait {
			bound = 2 * time.Second // it has exited: only the test's reaping is left
		}
		select {
		case <-d.done:
		case <-time.After(bound):
			t.Fatalf("%v: the daemon has not exited %v after", args, bound)
		}
		if d.waitErr != nil {
			t.Errorf("tether run after tether stop: %v; stderr:\n%s", d.waitErr, d.stderr)
		}
		if _, err := os.Stat(d.sock); err == nil {
			t.Errorf("the control socket is still there after tether stop")
		}
		assertNoneLeft(t, d.mark, d.tmp)
	}
}

// TestCompletePluginNames: status, logs and restart complete their NAME
// with the daemon's plugins, and with nothing, silently, when no daemon
// answers.
func TestCompletePluginNames(t *testing.T) {
	d := startDaemon(t, echoPlugin(t, "a", "")+echoPlugin(t, "b", ""))
	d.waitStatus("a and b running", func(st statusJSON) bool {
		return st.plugin(t, "a").State == "running" && st.plugin(t, "b").State == "running"
	})
	for _, c := range []string{"status", "logs", "restart"} {
		r := run(t, "", nil, "__complete", c, "--socket", d.sock, "")
		if r.code != 0 || r.stdout != "a\trunning\nb\trunning\n:4\n" {
			t.Errorf("__complete %s: exit %d, %q", c, r.code, r.stdout)
		}
		r = run(t, "", nil, "__complete", c, "--socket", d.sock+".none", "")
		if r.code != 0 || r.stdout != ":4\n" {
			t.Errorf("__complete %s without a daemon: exit %d, %q; want no name", c, r.code, r.stdout)
		}
	}
}
