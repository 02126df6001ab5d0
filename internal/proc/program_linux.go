package proc

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strconv"
)

// checkedProgram opens path, checks its SHA-256 is sum, and returns the
// path through which the child executes that very open file, whatever now
// sits at path: /proc/self/fd/N, N being the descriptor ExtraFiles gives
// it (fd 3+i for ExtraFiles[i]). No private copy is made.
func checkedProgram(path string, sum []byte, files []*os.File) (string, []*os.File, string, error) {
	bin, err := openChecked(path, sum)
	if err != nil {
		return "", files, "", err
	}
	files = append(files, bin)
	return "/proc/self/fd/" + strconv.Itoa(2+len(files)), files, "", nil
}

// openChecked opens path and returns it if its SHA-256 is want.
func openChecked(path string, want []byte) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("hashing %s: %w", path, err)
	}
	if got := h.Sum(nil); string(got) != string(want) {
		_ = f.Close()
		return nil, fmt.Errorf("%w: %s has SHA-256 %s, want %s", ErrChecksumMismatch, path,
			hex.EncodeToString(got), hex.EncodeToString(want))
	}
	return f, nil
}
