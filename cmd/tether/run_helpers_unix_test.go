//go:build unix

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tetherplug/tether/internal/plugintest"
)

// daemonProc is one `tether run` the test started.
type daemonProc struct {
	t         *testing.T
	cmd       *exec.Cmd
	stderr    *lockedBuffer
	manifest  string
	sock      string
	mark, tmp string
	done      chan struct{}
	stopped   bool
	waitErr   error
}

// lockedBuffer is plugintest.SyncBuffer.
type lockedBuffer = plugintest.SyncBuffer

// startDaemon writes the manifest (data_dir and socket are added) into a
// directory of its own and runs `tether run` on it until the test ends,
// when it is stopped with SIGTERM and checked to exit 0 leaving nothing.
func startDaemon(t *testing.T, plugins string) *daemonProc {
	t.Helper()
	dir := t.TempDir()
	d := &daemonProc{t: t, manifest: filepath.Join(dir, "plugins.yaml"), sock: filepath.Join(dir, "state", "control.sock"),
		mark: newMark(t), tmp: t.TempDir(), stderr: &lockedBuffer{}, done: make(chan struct{})}
	d.write(plugins)
	d.launch()
	return d
}

// again starts another `tether run` on d's manifest and data directory
// (after d was killed, say), with d's mark and TMPDIR.
func (d *daemonProc) again(args ...string) *daemonProc {
	n := &daemonProc{t: d.t, manifest: d.manifest, sock: d.sock, mark: d.mark, tmp: d.tmp,
		stderr: &lockedBuffer{}, done: make(chan struct{})}
	n.launch(args...)
	return n
}

// launch runs `tether run [args] MANIFEST` until the test ends, and waits
// for its control socket to answer.
func (d *daemonProc) launch(args ...string) {
	t := d.t
	d.cmd = exec.Command(cli(t), append(append([]string{"run"}, args...), d.manifest)...)
	d.cmd.Env = cliEnv(d.mark, d.tmp)
	d.cmd.Stderr = d.stderr
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		d.waitErr = d.cmd.Wait()
		close(d.done)
	}()
	t.Cleanup(func() {
		if !d.stopped {
			d.stop()
		}
	})
	waitFor(t, func() bool {
		return exec.Command(cli(t), "status", "--socket", d.sock).Run() == nil
	})
}

// kill9 kills the daemon with SIGKILL, as a crash would.
func (d *daemonProc) kill9() {
	d.t.Helper()
	d.stopped = true
	_ = d.cmd.Process.Kill()
	select {
	case <-d.done:
	case <-time.After(5 * time.Second):
		d.t.Fatal("tether run not reaped 5 s after SIGKILL")
	}
}

// write replaces the manifest's plugins.
func (d *daemonProc) write(plugins string) {
	d.t.Helper()
	doc := "data_dir: state\nquiet_period: 1s\nplugins:\n" + plugins
	if err := os.WriteFile(d.manifest, []byte(doc), 0o600); err != nil {
		d.t.Fatal(err)
	}
}

// signal sends sig to the daemon.
func (d *daemonProc) signal(sig syscall.Signal) {
	d.t.Helper()
	if err := d.cmd.Process.Signal(sig); err != nil {
		d.t.Fatal(err)
	}
}

// stop sends SIGTERM and checks the daemon exits 0 within 15 s, its socket
// removed and no process it started left running.
func (d *daemonProc) stop() {
	d.t.Helper()
	d.stopped = true
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(15 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
		d.t.Fatalf("tether run did not exit within 15 s of SIGTERM; stderr:\n%s", d.stderr)
	}
	if d.waitErr != nil {
		d.t.Errorf("tether run after SIGTERM: %v; stderr:\n%s", d.waitErr, d.stderr)
	}
	if _, err := os.Stat(d.sock); !errors.Is(err, os.ErrNotExist) {
		d.t.Errorf("the control socket %s is still there after SIGTERM (%v)", d.sock, err)
	}
	assertNoneLeft(d.t, d.mark, d.tmp)
}

// status runs `tether status --json` against the daemon.
func (d *daemonProc) status() statusJSON {
	d.t.Helper()
	r := run(d.t, "", nil, "status", "--json", "--socket", d.sock)
	requireOK(d.t, r)
	var st statusJSON
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		d.t.Fatalf("status --json: %v\n%s", err, r.stdout)
	}
	return st
}

// plugin is the named plugin's entry in st.
func (st statusJSON) plugin(t *testing.T, name string) instanceJSON {
	t.Helper()
	for _, p := range st.Plugins {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("status has no plugin %q: %+v", name, st.Plugins)
	return instanceJSON{}
}

// waitStatus polls status until cond holds, failing after 15 s with the
// last status and the daemon's log.
func (d *daemonProc) waitStatus(what string, cond func(statusJSON) bool) statusJSON {
	d.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		st := d.status()
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("%s: not within 15 s; last status: %+v\ndaemon log:\n%s", what, st, d.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// events are the daemon's JSON log records with the given event and
// instance.
func (d *daemonProc) events(event, instance string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(d.stderr.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil {
			continue
		}
		if rec["event"] == event && rec["instance"] == instance {
			out = append(out, rec)
		}
	}
	return out
}

// echoPlugin is a manifest entry for the echo plugin.
func echoPlugin(t *testing.T, name, extra string) string {
	return fmt.Sprintf("  - name: %s\n    path: %s\n    backoff: {initial: 200ms}\n%s", name, echo(t), extra)
}
