//go:build unix

package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// goOptionName matches a Go option's name in a message meant for a
// tether run user (network.WithInsecure, WithTLSFiles(...)).
var goOptionName = regexp.MustCompile(`\bWith[A-Z]\w*\(|\b(network|tether|supervise)\.[A-Z]`)

// TestRunRefusesNetworkEntryWithoutTLS: a tcp entry with neither tls nor
// insecure, or with an incomplete tls, is refused when the manifest loads
// (at start: exit 1 at once; on reload: refused, the running set kept),
// naming the entry and the manifest fields to set, never a Go option.
func TestRunRefusesNetworkEntryWithoutTLS(t *testing.T) {
	const noTLS = "  - name: remote\n    target: tcp://127.0.0.1:1\n"
	d := &daemonProc{t: t, manifest: filepath.Join(t.TempDir(), "plugins.yaml")}
	d.write(noTLS)
	r := run(t, "", nil, "run", d.manifest)
	want := `plugin "remote": field tls: tcp://127.0.0.1:1 is reached over the network and requires TLS: give tls: {cert: HOST.crt, key: HOST.key, ca: CA.crt}`
	if r.code != 1 || !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "or insecure: true to connect in plaintext") ||
		goOptionName.MatchString(r.stderr) || r.elapsed > 10*time.Second {
		t.Errorf("run with a tcp entry without tls: exit %d after %v, stderr %q; want 1 at once, %q and insecure: true", r.code, r.elapsed, r.stderr, want)
	}

	d = startDaemon(t, echoPlugin(t, "a", ""))
	pid := d.waitStatus("a running", func(st statusJSON) bool { return st.plugin(t, "a").State == "running" }).plugin(t, "a").Pid
	for plugins, says := range map[string]string{
		noTLS: "requires TLS: give tls: {cert: HOST.crt",
		"  - name: remote\n    target: tcp://127.0.0.1:1\n    tls: {ca: ca.crt}\n": `plugin "remote": field tls: cert and key missing: tls: {cert: HOST.crt`,
	} {
		d.write(echoPlugin(t, "a", "") + plugins)
		r = run(t, "", nil, "reload", "--socket", d.sock)
		if r.code != 1 || !strings.Contains(r.stderr, "reload refused, the running set is kept") || !strings.Contains(r.stderr, says) ||
			goOptionName.MatchString(r.stderr) {
			t.Errorf("reload of %q: exit %d, stderr %q; want 1, refused, saying %q", plugins, r.code, r.stderr, says)
		}
	}
	if st := d.status(); len(st.Plugins) != 1 || st.plugin(t, "a").Pid != pid {
		t.Errorf("after the refused reloads: %+v; want a alone, still pid %d", st.Plugins, pid)
	}
}

// TestReloadSaysDefaultQuietPeriod: with no quiet_period in the manifest,
// reload reports the period that applies, the supervisor's default of
// 500ms, not 0s.
func TestReloadSaysDefaultQuietPeriod(t *testing.T) {
	dir := t.TempDir()
	d := &daemonProc{t: t, manifest: filepath.Join(dir, "plugins.yaml"), sock: filepath.Join(dir, "state", "control.sock"),
		mark: newMark(t), tmp: t.TempDir(), stderr: &lockedBuffer{}, done: make(chan struct{})}
	write := func(extra string) {
		doc := "data_dir: state\nplugins:\n" + echoPlugin(t, "a", extra)
		if err := os.WriteFile(d.manifest, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("")
	d.launch()
	d.waitStatus("a running", func(st statusJSON) bool { return st.plugin(t, "a").State == "running" })
	write("    args: [edited]\n")
	r := run(t, "", nil, "reload", "--socket", d.sock)
	if want := "reloaded: changed a; 0 unchanged; applied once no reload comes for 500ms\n"; r.code != 0 || r.stdout != want {
		t.Errorf("reload without quiet_period: exit %d, %q, stderr %q; want %q", r.code, r.stdout, r.stderr, want)
	}
}

// TestRunRefusesUnknownScheme: an entry whose target's scheme no runtime
// of tether run serves is refused when the manifest loads (exit 1 at
// once), naming the schemes it serves, as docs/supervision.md quotes it.
func TestRunRefusesUnknownScheme(t *testing.T) {
	d := &daemonProc{t: t, manifest: filepath.Join(t.TempDir(), "plugins.yaml")}
	d.write("  - name: a\n    target: nomad://jobs/g\n")
	r := run(t, "", nil, "run", d.manifest)
	const want = `field target: no runtime is registered for scheme "nomad" in this program (registered: dns, exec, kube, run, tcp, unix)`
	if r.code != 1 || !strings.Contains(r.stderr, `plugin "a": `+want) || r.elapsed > 10*time.Second {
		t.Errorf("run with a nomad:// entry: exit %d after %v, stderr %q; want 1 at once and %q", r.code, r.elapsed, r.stderr, want)
	}
	doc, err := os.ReadFile("../../docs/supervision.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(strings.Fields(string(doc)), " "), want) {
		t.Errorf("docs/supervision.md does not quote %q", want)
	}
}
