package certs

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// File modes of what WriteFiles writes.
const (
	CertMode fs.FileMode = 0o644
	KeyMode  fs.FileMode = 0o600
)

// More errors the package returns, wrapped with the file's name.
var (
	// ErrBadPEM: a file holds no PEM block of the expected type, or one that does not parse.
	ErrBadPEM = errors.New("bad PEM file")
	// ErrKeyMismatch: a private key is not the one of the certificate beside it.
	ErrKeyMismatch = errors.New("private key does not match the certificate")
)

// CertPEM is the certificate as a PEM "CERTIFICATE" block.
func (p *Pair) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.Cert.Raw})
}

// KeyPEM is the private key as a PKCS #8 PEM "PRIVATE KEY" block.
func (p *Pair) KeyPEM() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(p.Key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// WriteFiles writes the certificate to certFile (mode [CertMode]) and the
// key to keyFile (mode [KeyMode]), each atomically (see [WriteFile]).
// Without force it writes neither when either exists (an error wrapping
// fs.ErrExist), and removes the key again when the certificate cannot be
// written, so it never leaves half a pair of its own.
func (p *Pair) WriteFiles(certFile, keyFile string, force bool) error {
	keyPEM, err := p.KeyPEM()
	if err != nil {
		return err
	}
	if !force {
		for _, f := range []string{certFile, keyFile} {
			if _, err := os.Lstat(f); err == nil {
				return fmt.Errorf("%s: %w", f, fs.ErrExist)
			}
		}
	}
	if err := WriteFile(keyFile, keyPEM, KeyMode, force); err != nil {
		return err
	}
	if err := WriteFile(certFile, p.CertPEM(), CertMode, force); err != nil {
		if !force {
			os.Remove(keyFile)
		}
		return err
	}
	return nil
}

// WriteFile writes data to path with mode perm so that a reader sees either
// no file (or the old one) or all of the new one: it writes a temporary
// file in path's directory, syncs it, and then links it to path, which fails
// with an error wrapping fs.ErrExist when path exists, or, with force,
// renames it over path.
func WriteFile(path string, data []byte, perm fs.FileMode, force bool) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	defer os.Remove(name)
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(perm)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if force {
		return os.Rename(name, path)
	}
	if err := os.Link(name, path); err != nil {
		var le *os.LinkError
		if errors.As(err, &le) && errors.Is(le.Err, fs.ErrExist) {
			return fmt.Errorf("%s: %w", path, fs.ErrExist)
		}
		return err
	}
	return nil
}

// LoadPair reads a certificate and its private key from PEM files. The key
// may be PKCS #8 ("PRIVATE KEY") or SEC 1 ("EC PRIVATE KEY"), and must be
// the certificate's.
func LoadPair(certFile, keyFile string) (*Pair, error) {
	certDER, err := readPEM(certFile, "CERTIFICATE")
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(certDER)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadPEM, certFile, err)
	}
	keyDER, err := readPEM(keyFile, "PRIVATE KEY", "EC PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	key, err := parseKey(keyDER)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadPEM, keyFile, err)
	}
	if pub, ok := cert.PublicKey.(*ecdsa.PublicKey); !ok || !pub.Equal(&key.PublicKey) {
		return nil, fmt.Errorf("%w: %s is not the key of %s", ErrKeyMismatch, keyFile, certFile)
	}
	return &Pair{Cert: cert, Key: key}, nil
}

// LoadCA is LoadPair for a CA: the certificate must be one that may sign.
func LoadCA(certFile, keyFile string) (*Pair, error) {
	p, err := LoadPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	if !p.Cert.IsCA || p.Cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNotCA, certFile)
	}
	return p, nil
}

// readPEM returns the bytes of the first PEM block in file, which must be
// of one of the types.
func readPEM(file string, types ...string) ([]byte, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("%w: %s holds no PEM block", ErrBadPEM, file)
	}
	for _, t := range types {
		if block.Type == t {
			return block.Bytes, nil
		}
	}
	return nil, fmt.Errorf("%w: %s holds a %q block, want %q", ErrBadPEM, file, block.Type, types[0])
}

func parseKey(der []byte) (*ecdsa.PrivateKey, error) {
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, err
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("the key is a %T, want ECDSA", k)
	}
	return ek, nil
}
