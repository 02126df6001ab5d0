//go:build unix

package main

import (
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
