package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// startNetEcho starts the echo plugin as a plain process serving on
// 127.0.0.1 with mutual TLS (the certificates makePKI wrote in pki), and
// returns its address, read from its "listening" log line. At the end of
// the test it is sent SIGTERM and must exit.
func startNetEcho(t *testing.T, pki string) string {
	t.Helper()
	return startNetEchoEnv(t, "TETHER_TLS_CERT="+filepath.Join(pki, "greeter.crt"),
		"TETHER_TLS_KEY="+filepath.Join(pki, "greeter.key"), "TETHER_TLS_CLIENT_CA="+filepath.Join(pki, "ca.crt"))
}

// startNetEchoEnv is startNetEcho with the serving environment env.
func startNetEchoEnv(t *testing.T, env ...string) string {
	t.Helper()
	cmd := exec.Command(echo(t))
	cmd.Env = append(append(os.Environ(), "TETHER_LISTEN=127.0.0.1:0"), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	addrs := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				addrs <- line.Addr
			}
		}
		exited <- cmd.Wait() // after stderr is read to its end
	}()
	t.Cleanup(func() { stopNetEcho(t, cmd, exited) })
	select {
	case addr := <-addrs:
		return addr
	case err := <-exited:
		t.Fatalf("the echo plugin exited before it listened: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the echo plugin logged no listening line within 10 s")
	}
	return ""
}

// TestNetworkTarget: inspect and call reach a plugin served on TCP with
// mutual TLS, given the client certificate and the CA; without the client
// certificate the plugin refuses them, and the error says so.
func TestNetworkTarget(t *testing.T) {
	pki := t.TempDir()
	makePKI(t, pki)
	target := "tcp://" + startNetEcho(t, pki)
	tlsArgs := []string{"--tls-cert", filepath.Join(pki, "host-1.crt"), "--tls-key", filepath.Join(pki, "host-1.key"),
		"--tls-ca", filepath.Join(pki, "ca.crt")}

	r := run(t, "", nil, append([]string{"inspect", target}, tlsArgs...)...)
	requireOK(t, r)
	for _, want := range []string{"addresses:         tcp " + strings.TrimPrefix(target, "tcp://") + ", mutual TLS",
		"health:            SERVING", "echo v1 (tether.echo.v1.Echo)", "tether.echo.v1.Echo\n",
		"Unary(tether.echo.v1.Message)", "Bidi(tether.echo.v1.Message)"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("inspect %s: output lacks %q:\n%s", target, want, r.stdout)
		}
	}

	r = run(t, "", nil, append([]string{"inspect", "--json", target}, tlsArgs...)...)
	requireOK(t, r)
	var info inspection
	if err := json.Unmarshal([]byte(r.stdout), &info); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, r.stdout)
	}
	if info.Remote == nil || !info.Remote.TLS || !info.Remote.ClientCert || info.Handshake != nil || info.Pid != 0 {
		t.Errorf("inspect --json %s: remote %+v, handshake %+v, pid %d", target, info.Remote, info.Handshake, info.Pid)
	}

	// Without a client certificate: refused, and said so at once, as
	// docs/cli.md shows.
	r = run(t, "", nil, "inspect", target, "--tls-ca", filepath.Join(pki, "ca.crt"), "--timeout", "3s")
	addr := strings.TrimPrefix(target, "tcp://")
	want := "tether: plugin " + target + ": TLS handshake failed: with " + addr + `: connection error: desc = "transport: authentication handshake failed: ` +
		addr + ` refused the connection after the TLS handshake (is the client certificate one it trusts?): remote error: tls: certificate required"` + "\n"
	if r.code != 1 || r.elapsed > 2*time.Second || r.stderr != want {
		t.Errorf("inspect without a client certificate: status %d after %v, stderr %q", r.code, r.elapsed, r.stderr)
	}

	r = run(t, "", nil, append([]string{"call", target, "tether.echo.v1.Echo/Unary", `{"text":"hi"}`}, tlsArgs...)...)
	requireOK(t, r)
	var resp struct{ Text string }
	if err := json.Unmarshal([]byte(r.stdout), &resp); err != nil || resp.Text != "hi" {
		t.Errorf("call Unary: %q, %v", r.stdout, err)
	}

	r = run(t, "{\"text\":\"a\"}\n{\"text\":\"b\"}\n", nil,
		append([]string{"call", target, "tether.echo.v1.Echo/Bidi"}, tlsArgs...)...)
	requireOK(t, r)
	if m := jsonLines(t, r.stdout); len(m) != 2 || m[0]["text"] != "a" || m[1]["text"] != "b" {
		t.Errorf("call Bidi: %q", r.stdout)
	}
}

// TestLsNetworkTarget: ls lists a network target with the TLS flags, beside
// a local program, which the flags do not concern.
func TestLsNetworkTarget(t *testing.T) {
	pki := t.TempDir()
	makePKI(t, pki)
	target := "tcp://" + startNetEcho(t, pki)
	r := run(t, "", nil, "ls", "--json", echo(t), target, "--tls-cert", filepath.Join(pki, "host-1.crt"),
		"--tls-key", filepath.Join(pki, "host-1.key"), "--tls-ca", filepath.Join(pki, "ca.crt"))
	requireOK(t, r)
	var entries []lsEntry
	if err := json.Unmarshal([]byte(r.stdout), &entries); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, r.stdout)
	}
	if len(entries) != 2 {
		t.Fatalf("got %d entries, want 2:\n%s", len(entries), r.stdout)
	}
	for _, e := range entries {
		if e.Status != "ok" || len(e.Interfaces["echo"]) == 0 {
			t.Errorf("entry %+v, want ok with interface echo", e)
		}
	}
	if entries[1].Target != target {
		t.Errorf("second entry's target %q, want %q", entries[1].Target, target)
	}
}

// TestNetworkFlagErrors: the TLS flags apply to network targets only, the
// client certificate needs its key, and a tcp target needs TLS or
// --insecure; each mistake fails at once naming its cause.
func TestNetworkFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"inspect", "./plugin", "--tls-cert", "c.crt"}, []string{"--tls-cert is for network targets", "./plugin"}},
		{[]string{"call", "exec:///bin/plugin", "E/M", "{}", "--insecure"}, []string{"--insecure is for network targets"}},
		{[]string{"inspect", "tcp://127.0.0.1:1", "--tls-cert", "c.crt", "--tls-ca", "ca.crt"}, []string{"--tls-cert and --tls-key go together"}},
		{[]string{"inspect", "tcp://127.0.0.1:1", "--tls-key", "c.key"}, []string{"--tls-cert and --tls-key go together"}},
		{[]string{"inspect", "tcp://127.0.0.1:1", "--insecure", "--tls-ca", "ca.crt"}, []string{"--insecure contradicts --tls-ca"}},
		{[]string{"inspect", "tcp://127.0.0.1:1"}, []string{"a tcp target requires TLS"}},
		{[]string{"inspect", "tcp://127.0.0.1:1", "--tls-ca", "/nonexistent/ca.crt"}, []string{"--tls-ca", "/nonexistent/ca.crt"}},
		{[]string{"ls", "tcp://127.0.0.1:1", "--tls-key", "c.key"}, []string{"--tls-cert and --tls-key go together"}},
	} {
		r := run(t, "", nil, tc.args...)
		if r.code == 0 || r.elapsed > 5*time.Second {
			t.Errorf("tether %v: status %d after %v", tc.args, r.code, r.elapsed)
		}
		for _, w := range tc.want {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("tether %v: stderr %q lacks %q", tc.args, r.stderr, w)
			}
		}
	}
}

// TestNetworkMessagesNameFlags: the messages of a network target name the
// CLI's flags, not the Go options they stand for: the --insecure warning, a
// plaintext client of a TLS plugin and a TLS client of a plaintext one.
func TestNetworkMessagesNameFlags(t *testing.T) {
	pki := t.TempDir()
	makePKI(t, pki)
	tlsTarget := "tcp://" + startNetEcho(t, pki)
	plainTarget := "tcp://" + startNetEchoEnv(t, "TETHER_INSECURE=1")

	var outs []string
	defer func() {
		for _, out := range outs {
			if goOption.MatchString(out) {
				t.Errorf("a message names a Go option: %q", out)
			}
		}
	}()
	r := run(t, "", nil, "call", plainTarget, "Unary", `{"text":"hi"}`, "--insecure")
	requireOK(t, r)
	outs = append(outs, r.stderr)
	if want := "connecting to the plugin in plaintext (--insecure): calls are neither encrypted nor authenticated"; !strings.Contains(r.stderr, want) {
		t.Errorf("--insecure: stderr %q lacks %q", r.stderr, want)
	}
	r = run(t, "", nil, "inspect", plainTarget, "--tls-ca", filepath.Join(pki, "ca.crt"))
	outs = append(outs, r.stderr)
	if want := "the server does not speak TLS (is it plaintext? then --insecure)"; r.code != 1 || !strings.Contains(r.stderr, want) {
		t.Errorf("TLS to a plaintext plugin: status %d, stderr %q lacks %q", r.code, r.stderr, want)
	}
	r = run(t, "", nil, "inspect", tlsTarget, "--insecure") // at once, well before the 10 s --timeout
	outs = append(outs, r.stderr)
	if want := "serves TLS (it answered a TLS handshake) and the host connects in plaintext: give --tls-ca (and --tls-cert, --tls-key for mutual TLS), not --insecure"; r.code != 1 || !strings.Contains(r.stderr, want) || r.elapsed > 3*time.Second {
		t.Errorf("plaintext to a TLS plugin: status %d after %v, stderr %q lacks %q", r.code, r.elapsed, r.stderr, want)
	}
}

// goOption matches a Go option's name in a message: network.WithInsecure.
var goOption = regexp.MustCompile(`\b(network|kube|tether)\.With[A-Z]`)
