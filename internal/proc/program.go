package proc

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// privateCopy copies path into a new private directory (mode 0700) while
// hashing what it copies, checks the SHA-256 is sum, and returns the copy's
// path and its directory: the bytes that were checked are the bytes that
// run, whatever is later renamed over path. On a mismatch or a failure
// nothing is left behind.
func privateCopy(path string, sum []byte) (copyPath, dir string, err error) {
	src, err := os.Open(path)
	if err != nil {
		return "", "", err
	}
	defer func() { _ = src.Close() }()
	dir, err = os.MkdirTemp("", "tether-checked-")
	if err != nil {
		return "", "", fmt.Errorf("private copy of %s: %w", path, err)
	}
	copyPath = filepath.Join(dir, filepath.Base(path))
	if err := copyHashed(src, copyPath, sum, path); err != nil {
		removeDir(dir)
		return "", "", err
	}
	return copyPath, dir, nil
}

// copyHashed writes src to dst (mode 0700, created exclusively) and checks
// what it wrote has SHA-256 sum; path names the original in errors.
func copyHashed(src io.Reader, dst string, sum []byte, path string) error {
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o700)
	if err != nil {
		return fmt.Errorf("private copy of %s: %w", path, err)
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(out, h), src)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("hashing %s: %w", path, err)
	}
	if got := h.Sum(nil); string(got) != string(sum) {
		return fmt.Errorf("%w: %s has SHA-256 %s, want %s", ErrChecksumMismatch, path,
			hex.EncodeToString(got), hex.EncodeToString(sum))
	}
	return nil
}
