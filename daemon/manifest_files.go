package daemon

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
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
		if f.path != "" {
			fc = append(fc, fileCheck{plugin: who, field: f.field, path: f.path})
		}
	}
	return fc
}

// tlsFiles are the TLS files' paths, absolute ("" for cert and key when
// not given).
func (p *rawPlugin) tlsFiles(dir string) (cert, key, ca string) {
	cert, key = p.TLS.Cert, p.TLS.Key
	if cert != "" {
		cert, key = abs(dir, cert), abs(dir, key)
	}
	return cert, key, abs(dir, p.TLS.CA)
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
// missing or unusable, naming the plugin, the field and the file.
func (m *Manifest) checkFiles() error {
	for _, c := range m.files {
		if err := c.check(); err != nil {
			return &ManifestError{File: m.File, Plugin: c.plugin, Field: c.field, Err: err}
		}
	}
	return nil
}
