package tether_test

import (
	"bytes"
	"encoding/base64"
	"strings"
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
		{"1|1|unix|/s|grpc||true", // go-plugin v1.6+ answering PLUGIN_MULTIPLEX_GRPC
			tether.HandshakeLine{CoreVersion: 1, AppVersion: 1, Network: "unix", Address: "/s", Protocol: "grpc", Multiplex: true}},
		{"1|1|unix|/s|grpc||false",
			tether.HandshakeLine{CoreVersion: 1, AppVersion: 1, Network: "unix", Address: "/s", Protocol: "grpc"}},
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
		"1|1|unix|/s|grpc||maybe":       "neither true nor false",
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
		a.Address == b.Address && a.Protocol == b.Protocol && a.Multiplex == b.Multiplex && bytes.Equal(a.ServerCert, b.ServerCert) &&
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
