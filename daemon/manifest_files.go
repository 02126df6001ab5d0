package daemon

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// fileCheck is a file a plugin of the manifest needs: Load refuses the
// manifest when it is missing (or, for a program, not executable), rather
// than have the supervisor fail at each start.
type fileCheck struct {
	plugin, field, path string
	program             bool // an executable program, not a file to read
}

// files are the plugin's files: its program, or its TLS files.
func (p *rawPlugin) files(who, target, dir string) []fileCheck {
	if p.Path != "" {
		return []fileCheck{{plugin: who, field: "path", path: target, program: true}}
	}
	if p.TLS == nil {
		return nil
	}
	cert, key, ca := p.tlsFiles(dir)
	var fc []fileCheck
	for _, f := range []struct{ field, path string }{{"tls.cert", cert}, {"tls.key", key}, {"tls.ca", ca}} {
		fc = append(fc, fileCheck{plugin: who, field: f.field, path: f.path})
	}
	return fc
}

// tlsFiles are the TLS files' paths, absolute.
func (p *rawPlugin) tlsFiles(dir string) (cert, key, ca string) {
	return abs(dir, p.TLS.Cert), abs(dir, p.TLS.Key), abs(dir, p.TLS.CA)
}

// check says what is wrong with the file, nil if nothing.
func (c fileCheck) check() error {
	fi, err := os.Stat(c.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s does not exist", c.path)
	case err != nil:
		return err
	case fi.IsDir():
		return fmt.Errorf("%s is a directory", c.path)
	case c.program && !fi.Mode().IsRegular():
		return fmt.Errorf("%s is not a regular file", c.path)
	case c.program:
		if err := executable(c.path); err != nil {
			return fmt.Errorf("%s is not executable: %w", c.path, err)
		}
		return nil
	}
	f, err := os.Open(c.path)
	if err != nil {
		return fmt.Errorf("%s cannot be read: %w", c.path, err)
	}
	return f.Close()
}

// checkFiles refuses the manifest when a file one of its plugins needs is
// missing or unusable, naming the plugin, the field and the file; then
// when a network entry's TLS files do not hold what they should.
func (m *Manifest) checkFiles() error {
	for _, c := range m.files {
		if err := c.check(); err != nil {
			return &ManifestError{File: m.File, Plugin: c.plugin, Field: c.field, Err: err}
		}
	}
	for _, c := range m.tls {
		if fe := c.check(); fe != nil {
			return &ManifestError{File: m.File, Plugin: c.plugin, Field: fe.field, Err: fe.err}
		}
	}
	return nil
}

// tlsCheck is a network entry's TLS files, which Load reads as the network
// runtime will: a certificate that is not one, or a key that is not its
// own, would fail each start.
type tlsCheck struct{ plugin, cert, key, ca string }

// tlsCheckOf is the entry's tlsCheck, nil without tls.
func (p *rawPlugin) tlsCheckOf(who, dir string) *tlsCheck {
	if p.TLS == nil {
		return nil
	}
	cert, key, ca := p.tlsFiles(dir)
	return &tlsCheck{plugin: who, cert: cert, key: key, ca: ca}
}

// check says what is wrong with the files' contents, nil if nothing.
func (c tlsCheck) check() *fieldErr {
	if _, err := tls.LoadX509KeyPair(c.cert, c.key); err != nil {
		return &fieldErr{"tls.cert", fmt.Errorf("%s and %s are not a PEM certificate and its private key: %w", c.cert, c.key, err)}
	}
	ca, err := os.ReadFile(c.ca)
	if err != nil {
		return &fieldErr{"tls.ca", fmt.Errorf("%s cannot be read: %w", c.ca, err)}
	}
	if !x509.NewCertPool().AppendCertsFromPEM(ca) {
		return &fieldErr{"tls.ca", fmt.Errorf("%s holds no PEM certificate", c.ca)}
	}
	return nil
}

// tlsFields says what the tls field of a network entry takes.
const tlsFields = "tls: {cert: HOST.crt, key: HOST.key, ca: CA.crt} (the host's client certificate and key, and the CA that signed the plugin's certificate)"

// missing are the fields of tls not given, in the order cert, key, ca.
func (t *rawTLS) missing() []string {
	var m []string
	for _, f := range []struct{ name, v string }{{"cert", t.Cert}, {"key", t.Key}, {"ca", t.CA}} {
		if f.v == "" {
			m = append(m, f.name)
		}
	}
	return m
}

// andList is "a", "a and b", "a, b and c".
func andList(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

// networkScheme reports whether scheme is the network runtime's, whose
// options tls and insecure set.
func networkScheme(scheme string) bool { return scheme == "tcp" || scheme == "unix" || scheme == "dns" }

// needsTLS reports whether targets of scheme are plaintext only when asked
// for (insecure: true): tcp and dns targets; unix sockets are plaintext by
// default.
func needsTLS(scheme string) bool { return scheme == "tcp" || scheme == "dns" }
