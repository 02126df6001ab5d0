package daemon

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tetherplug/tether/internal/certs"
)

// pki writes into dir a CA (ca.crt), a host certificate it signed with
// its key (host.crt, host.key), another key (other.key) and a file that
// is no PEM (plain).
func pki(t *testing.T, dir string) {
	t.Helper()
	ca, err := certs.NewCA("test-ca", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"host", "other"} {
		p, err := ca.IssueClient(name, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.WriteFiles(filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key"), false); err != nil {
			t.Fatal(err)
		}
	}
	for name, data := range map[string][]byte{"ca.crt": ca.CertPEM(), "plain": []byte("not a certificate\n")} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLoadReadsTLSFiles: a network entry's TLS files are read at load as
// the network runtime reads them: a certificate that is no PEM, a key that
// is not the certificate's, or a CA file with no certificate is refused,
// naming the entry, the field and the files, rather than failing each
// start.
func TestLoadReadsTLSFiles(t *testing.T) {
	dir := t.TempDir()
	pki(t, dir)
	mf := filepath.Join(dir, "m.yaml")
	load := func(tls string) error {
		t.Helper()
		doc := "data_dir: st\nplugins:\n  - {name: a, target: 'tcp://127.0.0.1:1', tls: " + tls + "}\n"
		if err := os.WriteFile(mf, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(mf)
		return err
	}
	if err := load("{cert: host.crt, key: host.key, ca: ca.crt}"); err != nil {
		t.Fatalf("a manifest with good TLS files: %v", err)
	}
	in := func(name string) string { return filepath.Join(dir, name) }
	for _, c := range []struct{ tls, field, says string }{
		{"{cert: plain, key: host.key, ca: ca.crt}", "tls.cert", in("plain") + " and " + in("host.key") + " are not a PEM certificate and its private key"},
		{"{cert: host.crt, key: other.key, ca: ca.crt}", "tls.cert", "are not a PEM certificate and its private key: tls: private key does not match public key"},
		{"{cert: host.crt, key: host.key, ca: plain}", "tls.ca", in("plain") + " holds no PEM certificate"},
	} {
		err := load(c.tls)
		var me *ManifestError
		if !errors.As(err, &me) || me.Plugin != `"a"` || me.Field != c.field || !strings.Contains(err.Error(), c.says) {
			t.Errorf("tls: %s: %v; want a *ManifestError for plugin \"a\", field %s, saying %q", c.tls, err, c.field, c.says)
		}
	}
}
