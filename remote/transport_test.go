package remote

import (
	"crypto/tls"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tetherplug/tether"
	testpki "github.com/tetherplug/tether/internal/plugintest/pki"
)

// opts are the options of a runtime "rt" whose unix-like "sock" targets
// are plaintext by default.
var opts = Options{Package: "rt", Schemes: []string{"rt", "sock"}, PlaintextSchemes: []string{"sock"}}

// files writes a CA, a client certificate and its key, and returns the
// files option's config.
func files(t *testing.T) *tlsFiles {
	t.Helper()
	dir := t.TempDir()
	ca := testpki.NewCA(t, "test CA")
	cli := ca.Client(t, "host")
	return &tlsFiles{cert: testpki.WriteFile(t, dir, "host.crt", cli.CertPEM),
		key: testpki.WriteFile(t, dir, "host.key", cli.KeyPEM), ca: testpki.WriteFile(t, dir, "ca.crt", ca.PEM)}
}

func target(t *testing.T, s string) tether.Target {
	t.Helper()
	tt, err := tether.ParseTarget(s)
	if err != nil {
		t.Fatal(err)
	}
	return tt
}

// TestRules: each rule refuses its combination with ErrBadTarget, of the
// target, saying what to do with the options' own names.
func TestRules(t *testing.T) {
	f := files(t)
	for _, tc := range []struct {
		name, target string
		c            config
		want         string
	}{
		{"neither", "rt://a", config{},
			"a rt target requires TLS: give rt.WithTLSFiles(cert, key, ca) or rt.WithTLSConfig, or rt.WithInsecure() to connect in plaintext"},
		{"both", "rt://a", config{files: f, tls: &tls.Config{}, tlsGiven: true},
			"give rt.WithTLSFiles or rt.WithTLSConfig, not both"},
		{"files and insecure", "rt://a", config{files: f, insecure: true},
			"rt.WithInsecure contradicts the TLS option also given"},
		{"config and insecure", "sock://a", config{tls: &tls.Config{}, tlsGiven: true, insecure: true},
			"rt.WithInsecure contradicts the TLS option also given"},
		{"nil config", "sock://a", config{tlsGiven: true}, "rt.WithTLSConfig was given a nil *tls.Config"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := opts.transport(target(t, tc.target), "plugin", tc.c)
			var pe *tether.PluginError
			if tr != nil || !errors.Is(err, tether.ErrBadTarget) || !errors.As(err, &pe) {
				t.Fatalf("got %v, %v; want a *PluginError of ErrBadTarget", tr, err)
			}
			if pe.Plugin != tc.target || pe.Detail != tc.want {
				t.Errorf("error of %q saying %q; want of %q saying %q", pe.Plugin, pe.Detail, tc.target, tc.want)
			}
		})
	}
}

// TestPlaintext: WithInsecure, or no option for a plaintext scheme, is
// plaintext, with no server name.
func TestPlaintext(t *testing.T) {
	for _, tc := range []struct {
		target string
		c      config
	}{{"rt://a", config{insecure: true}}, {"sock://a", config{}}, {"sock://a", config{serverName: "x"}}} {
		tr, err := opts.transport(target(t, tc.target), "plugin", tc.c)
		if err != nil {
			t.Fatalf("%s %+v: %v", tc.target, tc.c, err)
		}
		if tr.Secure() || tr.ServerName("def") != "" {
			t.Errorf("%s %+v: secure %v, server name %q; want plaintext", tc.target, tc.c, tr.Secure(), tr.ServerName("def"))
		}
		ep := tr.Endpoint("tcp", "127.0.0.1:7000", "def")
		if ep.Creds == nil || ep.Creds.Info().SecurityProtocol != "insecure" || !ep.HealthChecked {
			t.Errorf("endpoint %+v: want plaintext credentials, health checked", ep)
		}
	}
}

// TestMinVersionRaised: a configuration that allows TLS 1.0 is raised to
// 1.2, in a clone: the host's own is left as it was.
func TestMinVersionRaised(t *testing.T) {
	mine := &tls.Config{MinVersion: tls.VersionTLS10}
	tr, err := opts.transport(target(t, "rt://a"), "plugin", config{tls: mine, tlsGiven: true})
	if err != nil {
		t.Fatal(err)
	}
	if tr.conf.MinVersion != tls.VersionTLS12 || mine.MinVersion != tls.VersionTLS10 {
		t.Errorf("MinVersion %x, the host's %x; want 1.2 and the host's untouched", tr.conf.MinVersion, mine.MinVersion)
	}
	if tr = opts.TLS(&tls.Config{MinVersion: tls.VersionTLS13}); tr.conf.MinVersion != tls.VersionTLS13 {
		t.Errorf("MinVersion %x; a higher one must stay", tr.conf.MinVersion)
	}
}

// TestServerName: WithServerName, else the configuration's ServerName,
// else the runtime's default; WithServerName is what TLS checks too, not
// the configuration's name.
func TestServerName(t *testing.T) {
	for _, tc := range []struct {
		c    config
		want string
	}{
		{config{files: files(t)}, "def"},
		{config{files: files(t), serverName: "named"}, "named"},
		{config{tls: &tls.Config{ServerName: "conf"}, tlsGiven: true}, "conf"},
		{config{tls: &tls.Config{ServerName: "conf"}, tlsGiven: true, serverName: "named"}, "named"},
	} {
		tr, err := opts.transport(target(t, "rt://a"), "plugin", tc.c)
		if err != nil {
			t.Fatal(err)
		}
		if got := tr.ServerName("def"); got != tc.want {
			t.Errorf("%+v: server name %q, want %q", tc.c, got, tc.want)
		}
		if ep := tr.Endpoint("tcp", "127.0.0.1:7000", "def"); ep.ServerName != tc.want || ep.Creds == nil {
			t.Errorf("%+v: endpoint %+v, want server name %q", tc.c, ep, tc.want)
		}
		if tc.c.serverName != "" && tr.conf.ServerName != tc.c.serverName {
			t.Errorf("%+v: the TLS configuration checks %q", tc.c, tr.conf.ServerName)
		}
	}
}

// TestUnreadableFiles: a file that cannot be loaded is ErrHost, of the
// plugin, naming the file.
func TestUnreadableFiles(t *testing.T) {
	good := files(t)
	missing := filepath.Join(t.TempDir(), "missing.pem")
	for _, tc := range []struct {
		name string
		f    tlsFiles
		want string
	}{
		{"missing CA", tlsFiles{good.cert, good.key, missing}, "missing.pem"},
		{"CA without PEM", tlsFiles{good.cert, good.key, good.key}, "the CA file " + good.key + " holds no PEM certificate"},
		{"key for certificate", tlsFiles{good.key, good.key, good.ca}, "could not load the client certificate " + good.key},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := opts.transport(target(t, "rt://a"), "plugin", config{files: &tc.f})
			var pe *tether.PluginError
			if !errors.Is(err, tether.ErrHost) || !errors.As(err, &pe) || pe.Plugin != "plugin" {
				t.Fatalf("got %v; want a *PluginError of ErrHost for plugin", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%v does not say %q", err, tc.want)
			}
		})
	}
}
