//go:build unix

package daemon

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadChecksFiles: a program that does not exist or cannot be
// executed, and a TLS file of a network entry that does not exist, are
// refused at load, naming the plugin, the field and the file; they would
// otherwise burn the restart budget (or make a watched network plugin
// "fail").
func TestLoadChecksFiles(t *testing.T) {
	dir := t.TempDir()
	prog, plain := filepath.Join(dir, "prog"), filepath.Join(dir, "plain")
	for path, mode := range map[string]os.FileMode{prog: 0o700, plain: 0o600} {
		if err := os.WriteFile(path, []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	mf := filepath.Join(dir, "m.yaml")
	load := func(plugins string) error {
		t.Helper()
		if err := os.WriteFile(mf, []byte("data_dir: st\nplugins:\n"+plugins), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(mf)
		return err
	}
	pki(t, dir)
	if err := load("  - {name: ok, path: prog}\n  - {name: net, target: 'tcp://127.0.0.1:1', tls: {cert: host.crt, key: host.key, ca: ca.crt}}\n"); err != nil {
		t.Fatalf("a manifest whose files are there: %v", err)
	}
	for _, c := range []struct{ plugins, field, says string }{
		{"  - {name: a, path: missing}\n", "path", filepath.Join(dir, "missing") + " does not exist"},
		{"  - {name: a, path: plain}\n", "path", plain + " is not executable"},
		{"  - {name: a, path: .}\n", "path", dir + " is a directory"},
		{"  - {name: a, target: 'tcp://127.0.0.1:1', tls: {cert: plain, key: plain, ca: nope.pem}}\n", "tls.ca", filepath.Join(dir, "nope.pem") + " does not exist"},
		{"  - {name: a, target: 'tcp://127.0.0.1:1', tls: {cert: c.pem, key: plain, ca: plain}}\n", "tls.cert", "c.pem does not exist"},
		{"  - {name: a, target: 'tcp://127.0.0.1:1', tls: {cert: plain, key: k.pem, ca: plain}}\n", "tls.key", "k.pem does not exist"},
	} {
		err := load(c.plugins)
		var me *ManifestError
		if !errors.As(err, &me) || me.File != mf || me.Plugin != `"a"` || me.Field != c.field || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: %v; want a *ManifestError for plugin \"a\", field %s, saying %q", c.plugins, err, c.field, c.says)
		}
	}
}
