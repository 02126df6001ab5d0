package e2e_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/plugintest"
	"github.com/tetherplug/tether/tethertest"
)

// launchForReattach launches the echo plugin with automatic mutual TLS
// (checked gone after the test) and returns its client, its config and
// the config's file.
func launchForReattach(t *testing.T) (*tether.Client, tether.ReattachConfig, string) {
	t.Helper()
	c := launchEcho(t, "", tether.WithAutoMTLS(), tether.WithInterface("echo", 1))
	cfg, err := c.ReattachConfig()
	if err != nil {
		t.Fatalf("ReattachConfig: %v", err)
	}
	path := filepath.Join(t.TempDir(), "reattach.json")
	if err := cfg.WriteFile(path); err != nil {
		t.Fatalf("WriteFile: %v", err)
	}
	return c, cfg, path
}

// mustEcho fails the test unless a call through c answers text.
func mustEcho(t *testing.T, c *tether.Client, text string) {
	t.Helper()
	echo, err := tether.Dispense(c, "echo", echov1.NewEchoClient)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	m, err := echo.Unary(ctx, &echov1.Message{Text: text})
	if err != nil || m.GetText() != text {
		t.Fatalf("call %q: answer %q, error %v", text, m.GetText(), err)
	}
}

// attachHost is a running attachhost process and its output lines.
type attachHost struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string // closed at the end of its stdout
}

// startAttachHost runs attachhost on the config file; it is killed and
// waited for when the test ends.
func startAttachHost(t *testing.T, path string, args ...string) *attachHost {
	t.Helper()
	cmd := exec.Command(tethertest.Build(t, plugintest.AttachHost), append([]string{"-config", path}, args...)...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
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
	h := &attachHost{cmd: cmd, stdin: stdin, lines: make(chan string, 16)}
	go func() {
		defer close(h.lines)
		for sc := bufio.NewScanner(out); sc.Scan(); {
			h.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return h
}

// wait waits for the host's exit and returns its status.
func (h *attachHost) wait(t *testing.T) int {
	t.Helper()
	done := make(chan struct{})
	go func() {
		for range h.lines { // drain stdout, so Wait can return
		}
		_ = h.cmd.Wait()
		close(done)
	}()
	tethertest.Recv(t, done, 10*time.Second)
	return h.cmd.ProcessState.ExitCode()
}

// TestAttachFromAnotherHostProcess: a second host process attaches from the
// config file and calls the plugin; closing it, or killing it, leaves the
// plugin running and its launching host still calling it.
func TestAttachFromAnotherHostProcess(t *testing.T) {
	t.Parallel()
	c, cfg, path := launchForReattach(t)
	pid := c.Pid()
	if cfg.Pid != pid || cfg.StartTime == 0 || cfg.TLS == nil || cfg.Interfaces["echo"] != 1 || cfg.Network != "unix" {
		t.Fatalf("config %+v: want pid %d, a start time, TLS material, echo v1, a unix socket", cfg, pid)
	}
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("config file: %v, %v; want mode 0600", info.Mode(), err)
	}

	for _, end := range []string{"close", "kill"} {
		h := startAttachHost(t, path)
		if got, want := tethertest.Recv(t, h.lines, 20*time.Second), "attached "+strconv.Itoa(pid)+" first"; got != want {
			t.Fatalf("attachhost printed %q, want %q", got, want)
		}
		if _, err := io.WriteString(h.stdin, "from the second host\n"); err != nil {
			t.Fatal(err)
		}
		if got := tethertest.Recv(t, h.lines, 5*time.Second); got != "from the second host" {
			t.Fatalf("second host's call answered %q", got)
		}
		mustEcho(t, c, "first host, while attached")
		if end == "close" {
			_ = h.stdin.Close()
			if got := tethertest.Recv(t, h.lines, 5*time.Second); got != "closed" {
				t.Fatalf("attachhost printed %q, want closed", got)
			}
			if code := h.wait(t); code != 0 {
				t.Fatalf("attachhost exited %d after Close", code)
			}
		} else {
			_ = h.cmd.Process.Kill()
			h.wait(t)
		}
		if exited(pid) {
			t.Fatalf("plugin %d exited after the attached host's %s", pid, end)
		}
		mustEcho(t, c, "first host, after the attached one's "+end)
	}
}

// TestAttachInProcessCloseAndKillDisconnectOnly: an attached Client's Close
// and Kill leave the plugin running; when the launching host stops the
// plugin, the attached Client's Exited is closed with ErrPluginExited.
func TestAttachInProcessCloseAndKillDisconnectOnly(t *testing.T) {
	t.Parallel()
	c, cfg, path := launchForReattach(t)
	read, err := tether.ReadReattachConfig(path)
	if err != nil {
		t.Fatalf("ReadReattachConfig: %v", err)
	}
	for _, end := range []func(*tether.Client) error{(*tether.Client).Close, func(a *tether.Client) error { return a.Kill(t.Context()) }} {
		a, err := tether.Attach(t.Context(), read, tether.WithInterface("echo", 1))
		if err != nil {
			t.Fatalf("Attach: %v", err)
		}
		if a.Pid() != cfg.Pid {
			t.Errorf("attached Pid %d, want %d", a.Pid(), cfg.Pid)
		}
		mustEcho(t, a, "attached")
		if err := end(a); err != nil {
			t.Fatalf("attached client's end: %v", err)
		}
		if exited(cfg.Pid) {
			t.Fatal("the plugin exited when the attached client ended")
		}
		mustEcho(t, c, "launching host")
	}

	a, err := tether.Attach(t.Context(), read, tether.WithInterface("echo", 1))
	if err != nil {
		t.Fatalf("Attach: %v", err)
	}
	defer a.Close()
	if again, err := a.ReattachConfig(); err != nil || again.Address != cfg.Address || again.TLS == nil {
		t.Errorf("attached client's ReattachConfig: %+v, %v; want the same plugin's", again, err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	tethertest.Recv(t, a.Exited(), 5*time.Second)
	if err := a.ExitError(); !errors.Is(err, tether.ErrPluginExited) {
		t.Errorf("attached client's ExitError after the plugin stopped: %v, want ErrPluginExited", err)
	}
}

// TestAttachWithWrongVersionsLeavesPluginAlone: a host asking for a version
// the plugin does not serve, a config whose versions the plugin does not
// serve, and a host that does not speak the config's protocol version each
// fail with a *VersionError; the plugin keeps serving its launching host.
func TestAttachWithWrongVersionsLeavesPluginAlone(t *testing.T) {
	t.Parallel()
	c, cfg, path := launchForReattach(t)
	tampered := func(f func(*tether.ReattachConfig)) tether.ReattachConfig {
		cp := cfg
		cp.Interfaces = map[string]int{"echo": 1}
		f(&cp)
		return cp
	}
	cases := []struct {
		name  string
		cfg   tether.ReattachConfig
		opts  []tether.Option
		iface string
	}{
		{"host wants echo v99", cfg, []tether.Option{tether.WithInterface("echo", 99)}, "echo"},
		{"config says echo v7", tampered(func(c *tether.ReattachConfig) { c.Interfaces["echo"] = 7 }), nil, "echo"},
		{"config says protocol 5", tampered(func(c *tether.ReattachConfig) { c.ProtocolVersion = 5 }), nil, ""},
		{"plugin speaks no protocol 5", tampered(func(c *tether.ReattachConfig) { c.ProtocolVersion = 5 }),
			[]tether.Option{tether.WithProtocolVersions(1, 5)}, ""},
	}
	for _, tc := range cases {
		a, err := tether.Attach(t.Context(), tc.cfg, tc.opts...)
		if a != nil {
			_ = a.Close()
		}
		var ve *tether.VersionError
		if !errors.As(err, &ve) || ve.Interface != tc.iface {
			t.Errorf("%s: Attach: %v, want a *VersionError for %q", tc.name, err, tc.iface)
		}
	}
	h := startAttachHost(t, path, "-version", "99")
	if code := h.wait(t); code != 3 {
		t.Errorf("attachhost -version 99 exited %d, want 3 (attach failed)", code)
	}
	if exited(cfg.Pid) {
		t.Fatal("the plugin exited after failed attaches")
	}
	mustEcho(t, c, "still served")
}

// TestAttachToDeadOrReusedPidFailsFast: a config whose pid is gone, or
// whose pid's start time differs (a reused pid), fails at once with
// ErrUnavailable naming the cause, and the plugin is untouched.
func TestAttachToDeadOrReusedPidFailsFast(t *testing.T) {
	t.Parallel()
	c, cfg, _ := launchForReattach(t)
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	dead, reused := cfg, cfg
	dead.Pid = gone.Process.Pid
	dead.StartTime = 0
	reused.StartTime++
	for name, tc := range map[string]struct {
		cfg  tether.ReattachConfig
		want string
	}{"dead": {dead, "is gone"}, "reused": {reused, "another process"}} {
		start := time.Now()
		a, err := tether.Attach(t.Context(), tc.cfg, tether.WithStartTimeout(20*time.Second))
		if a != nil {
			_ = a.Close()
		}
		if !errors.Is(err, tether.ErrUnavailable) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s pid: Attach: %v, want ErrUnavailable saying %q", name, err, tc.want)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s pid: Attach took %v, want it to fail at once", name, d)
		}
	}
	if exited(cfg.Pid) {
		t.Fatal("the plugin exited after failed attaches")
	}
	mustEcho(t, c, "still served")
}

// TestAttachBadConfig: a config that cannot be used is ErrBadTarget naming
// the field, before anything is dialled.
func TestAttachBadConfig(t *testing.T) {
	t.Parallel()
	_, cfg, _ := launchForReattach(t)
	other, _, _ := launchForReattach(t)
	otherCfg, _ := other.ReattachConfig()
	cases := map[string]func(*tether.ReattachConfig){
		"address":          func(c *tether.ReattachConfig) { c.Address = "" },
		"network":          func(c *tether.ReattachConfig) { c.Network = "udp" },
		"protocol":         func(c *tether.ReattachConfig) { c.Protocol = "netrpc" },
		"protocol_version": func(c *tether.ReattachConfig) { c.ProtocolVersion = 0 },
		"tls.client_cert":  func(c *tether.ReattachConfig) { c.TLS.ClientCert = "not PEM" },
		"tls.client_key":   func(c *tether.ReattachConfig) { c.TLS.ClientKey = otherCfg.TLS.ClientKey },
		"tls.server_cert":  func(c *tether.ReattachConfig) { c.TLS.ServerCert = c.TLS.ClientKey },
	}
	for field, f := range cases {
		bad := cfg
		tlsCopy := *cfg.TLS
		bad.TLS = &tlsCopy
		f(&bad)
		_, err := tether.Attach(t.Context(), bad)
		if !errors.Is(err, tether.ErrBadTarget) || !strings.Contains(err.Error(), `"`+field+`"`) {
			t.Errorf("field %s: Attach: %v, want ErrBadTarget naming it", field, err)
		}
	}
	if _, err := tether.Attach(t.Context(), cfg, tether.WithArgs("-x")); !errors.Is(err, tether.ErrBadTarget) {
		t.Errorf("Attach with an exec option: %v, want ErrBadTarget", err)
	}
}

// TestReattachConfigFile: WriteFile replaces a file readable by others
// with one only its owner reads; ReadReattachConfig refuses key material
// readable by others, and files that are not configs.
func TestReattachConfigFile(t *testing.T) {
	t.Parallel()
	_, cfg, _ := launchForReattach(t)
	path := filepath.Join(t.TempDir(), "cfg.json")
	if err := os.WriteFile(path, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := cfg.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	if info, _ := os.Stat(path); info.Mode().Perm() != 0o600 {
		t.Errorf("mode after WriteFile over a 0644 file: %v, want 0600", info.Mode().Perm())
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("WriteFile left %d files in its directory, want 1", len(entries))
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := tether.ReadReattachConfig(path); !errors.Is(err, tether.ErrBadTarget) || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("ReadReattachConfig of a 0644 file with a key: %v, want ErrBadTarget saying chmod 600", err)
	}
	for name, data := range map[string]string{"not JSON": "{", "empty": "{}", "a list": "[]"} {
		p := filepath.Join(t.TempDir(), "bad.json")
		_ = os.WriteFile(p, []byte(data), 0o600)
		if _, err := tether.ReadReattachConfig(p); !errors.Is(err, tether.ErrBadTarget) {
			t.Errorf("%s: ReadReattachConfig: %v, want ErrBadTarget", name, err)
		}
	}
	if _, err := tether.ReadReattachConfig(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, tether.ErrBadTarget) {
		t.Errorf("missing file: %v, want ErrBadTarget", err)
	}
}

// TestReattachConfigOfNonLocalPlugin: only a local plugin the host launched
// has a reattach config.
func TestReattachConfigOfNonLocalPlugin(t *testing.T) {
	t.Parallel()
	owner := launchEcho(t, "")
	hs := owner.Handshake()
	c, err := tether.Open(t.Context(), registerStatic(tether.Endpoint{Network: hs.Network, Address: hs.Address}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.ReattachConfig(); !errors.Is(err, tether.ErrBadTarget) || !strings.Contains(err.Error(), "local plugins") {
		t.Errorf("ReattachConfig of a %s client: %v, want ErrBadTarget saying reattach is for local plugins", c.Target(), err)
	}
}

// TestAttachedHostGetsItsOwnCallbacks: the plugin's callbacks for a call of
// the attached host reach that host, those of the launching host reach it.
func TestAttachedHostGetsItsOwnCallbacks(t *testing.T) {
	t.Parallel()
	withTag := func(tag string) tether.Option {
		return tether.WithCallbacks(func(r grpc.ServiceRegistrar) { echov1.RegisterEchoServer(r, plugintest.TaggedEcho{Tag: tag}) })
	}
	c, err := tether.Launch(t.Context(), tethertest.Build(t, callbackPlugin), tether.WithAutoMTLS(), withTag("A"))
	if err != nil {
		t.Fatal(err)
	}
	pid := c.Pid()
	defer func() {
		_ = c.Close()
		if !reaped(pid) {
			t.Errorf("plugin %d left after Close", pid)
		}
	}()
	cfg, err := c.ReattachConfig()
	if err != nil {
		t.Fatal(err)
	}
	a, err := tether.Attach(t.Context(), cfg, withTag("B"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for i := range 20 {
		for tag, cl := range map[string]*tether.Client{"A": c, "B": a} {
			echo, _ := tether.Dispense(cl, "echo", echov1.NewEchoClient)
			text := strconv.Itoa(i)
			m, err := echo.Unary(t.Context(), &echov1.Message{Text: text})
			if want := "plugin:" + tag + ":" + text; err != nil || m.GetText() != want {
				t.Fatalf("host %s: answer %q, error %v; want %q", tag, m.GetText(), err, want)
			}
		}
	}
}

// FuzzReadReattachConfig: any file content is a config that survives a
// round trip through WriteFile, or an ErrBadTarget; never a panic.
func FuzzReadReattachConfig(f *testing.F) {
	f.Add([]byte(`{"plugin":"p","network":"unix","address":"/tmp/p.sock","protocol":"grpc","protocol_version":1}`))
	f.Add([]byte(`{"network":"tcp","address":"127.0.0.1:1","protocol":"grpc","protocol_version":2,"interfaces":{"echo":1},"pid":1,"start_time":5}`))
	f.Add([]byte(`{"network":"unix","address":"/x","protocol":"grpc","protocol_version":1,"tls":{"client_cert":"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"}}`))
	f.Add([]byte(`{"network":"tcp","address":"10.0.0.1:7000","protocol":"grpc","protocol_version":1}`))
	f.Add([]byte(`null`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "in.json")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := tether.ReadReattachConfig(path)
		if err != nil {
			if !errors.Is(err, tether.ErrBadTarget) {
				t.Fatalf("error %v is not ErrBadTarget", err)
			}
			return
		}
		out := filepath.Join(dir, "out.json")
		if err := cfg.WriteFile(out); err != nil {
			t.Fatal(err)
		}
		again, err := tether.ReadReattachConfig(out)
		if err != nil {
			t.Fatalf("a config read back after WriteFile: %v", err)
		}
		if again.Address != cfg.Address || again.Pid != cfg.Pid || len(again.Interfaces) != len(cfg.Interfaces) {
			t.Fatalf("round trip changed the config: %+v, then %+v", cfg, again)
		}
	})
}
