package tether_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/autotls"
)

func TestParseHandshakeLine(t *testing.T) {
	cert, _, err := autotls.Generate()
	if err != nil {
		t.Fatal(err)
	}
	der := cert.Certificate[0]
	good := []struct {
		line string
		want tether.HandshakeLine
	}{
		{"1|1|unix|/tmp/plugin123/plugin.sock|grpc|\n",
			tether.HandshakeLine{CoreVersion: 1, AppVersion: 1, Network: "unix", Address: "/tmp/plugin123/plugin.sock", Protocol: "grpc"}},
		{"1|3|tcp|127.0.0.1:1234|grpc\r\n", // go-plugin's five field form
			tether.HandshakeLine{CoreVersion: 1, AppVersion: 3, Network: "tcp", Address: "127.0.0.1:1234", Protocol: "grpc"}},
		{"1|2|unix|/s|grpc|" + base64.RawStdEncoding.EncodeToString(der),
			tether.HandshakeLine{CoreVersion: 1, AppVersion: 2, Network: "unix", Address: "/s", Protocol: "grpc", ServerCert: der}},
		{"1|2|unix|/s|grpc|" + base64.StdEncoding.EncodeToString(der), // padded, as go-plugin writes it
			tether.HandshakeLine{CoreVersion: 1, AppVersion: 2, Network: "unix", Address: "/s", Protocol: "grpc", ServerCert: der}},
	}
	for _, tc := range good {
		got, err := tether.ParseHandshakeLine(tc.line)
		if err != nil {
			t.Errorf("ParseHandshakeLine(%q): %v", tc.line, err)
			continue
		}
		if !equalLines(got, tc.want) {
			t.Errorf("ParseHandshakeLine(%q) = %+v, want %+v", tc.line, got, tc.want)
		}
	}

	bad := map[string]string{
		"hello, I am not a plugin":      "got 1 field(s)",
		"":                              "got 1 field(s)",
		"1|1|unix":                      "got 3 field(s)",
		"1|1|unix|/s|grpc||||y":         "at most 8",
		"1|1|unix|/s|grpc||true":        "does not multiplex",
		"x|1|unix|/s|grpc|":             `core protocol version "x"`,
		"2|1|unix|/s|grpc|":             "core protocol version 2 is not 1",
		"1|-1|unix|/s|grpc|":            `application protocol version "-1"`,
		"1|1|udp|/s|grpc|":              `network "udp"`,
		"1|1|unix||grpc|":               "address is empty",
		"1|1|unix|/s":                   `protocol "netrpc"`,
		"1|1|unix|/s|netrpc|":           `protocol "netrpc"`,
		"1|1|unix|/s|grpc|not base64!!": "not base64",
		"1|1|unix|/s|grpc|" + strings.Repeat("A", 70<<10): "more than a handshake",
	}
	for line, want := range bad {
		_, err := tether.ParseHandshakeLine(line)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseHandshakeLine(%.40q) = %v, want an error containing %q", line, err, want)
		}
	}
}

func equalLines(a, b tether.HandshakeLine) bool {
	return a.CoreVersion == b.CoreVersion && a.AppVersion == b.AppVersion && a.Network == b.Network &&
		a.Address == b.Address && a.Protocol == b.Protocol && bytes.Equal(a.ServerCert, b.ServerCert) &&
		bytes.Equal(a.Describe, b.Describe)
}

// FuzzParseHandshakeLine: parsing never panics, and a line that parses
// prints (String) as a line that parses to the same value.
func FuzzParseHandshakeLine(f *testing.F) {
	cert, _, err := autotls.Generate()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		"1|1|unix|/tmp/tether-123/plugin-42.sock|grpc|\n",
		"1|1|unix|/tmp/plugin2914/plugin.sock|grpc|" + base64.StdEncoding.EncodeToString(cert.Certificate[0]),
		"1|1|unix|/tmp/tether-1/p.sock|grpc|" + base64.RawStdEncoding.EncodeToString(cert.Certificate[0]) + "\n",
		"1|5|tcp|127.0.0.1:41234|grpc",
		"1|1|tcp|127.0.0.1:1234|netrpc",
		"hello, I am not a plugin\n",
		"This binary is a plugin. These are not meant to be executed directly.",
		"1|+01|unix|a|grpc|QUJD",
		"1|1|unix|/tmp/p.sock|grpc|||CgRlY2hv",
		"1|1|unix|/tmp/p.sock|grpc||true|",
		"1|1|unix|/tmp/p.sock|grpc||false|!!",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		h, err := tether.ParseHandshakeLine(line)
		if err != nil {
			return
		}
		again, err := tether.ParseHandshakeLine(h.String())
		if err != nil {
			t.Fatalf("%q parses, but its String() %q does not: %v", line, h.String(), err)
		}
		if !equalLines(h, again) {
			t.Fatalf("%q parses to %+v, but its String() %q to %+v", line, h, h.String(), again)
		}
	})
}

// TestPluginRefusesWithoutCookie: run by hand, a plugin prints a message
// for humans on stderr, nothing on stdout, and exits 1.
func TestPluginRefusesWithoutCookie(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(echoPath(t))
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Errorf("plugin run without its cookie: %v, want exit status 1", err)
	}
	if stdout.Len() != 0 {
		t.Errorf("it printed %q on stdout", stdout.String())
	}
	if !strings.Contains(stderr.String(), "This binary is a plugin") || !strings.Contains(stderr.String(), tether.DefaultMagicCookieKey) {
		t.Errorf("stderr = %q, want the plugin message naming the cookie variable", stderr.String())
	}
}

// TestPluginHandshakeLine runs a plugin the way a go-plugin host does and
// reads its handshake line: the six field form, on a socket in the
// directory the host named. SIGTERM then stops it cleanly and removes the
// socket.
func TestPluginHandshakeLine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cmd := exec.Command(echoPath(t))
	cmd.Env = []string{
		tether.DefaultMagicCookieKey + "=" + tether.DefaultMagicCookieValue,
		tether.EnvProtocolVersions + "=1,2",
		tether.EnvUnixSocketDir + "=" + dir,
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, fmt.Sprintf("plugin-%d.sock", cmd.Process.Pid))
	if want := "1|1|unix|" + sock + "|grpc|\n"; line != want {
		t.Errorf("handshake line %q, want %q", line, want)
	}
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Type() != os.ModeSocket {
		t.Errorf("socket %s: %v, %v", sock, fi, err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("after SIGTERM: %v, want a clean exit", err)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("socket left after the plugin stopped: %v", err)
	}
}
