// Package logrotate writes a plugin's log lines to a file with size-capped
// rotation: path, then path.1 (the newest rotated file) to path.N (the
// oldest). Files are owner-only (0600) in an owner-only directory (0700 when
// created). ReadTail and Follow read them back, for `tether logs`.
package logrotate

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/tetherplug/tether/internal/statefile"
)

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("log writer closed")

// ErrBadLimits is wrapped by New's error for a maxBytes under 1 or a
// negative keep.
var ErrBadLimits = errors.New("bad rotation limits")

// Writer is a line-oriented io.Writer to a rotated file, safe for
// concurrent use. A write that would make the file pass maxBytes first
// rotates it, so a line is never split between two files, unless that line
// alone is longer than maxBytes: then it is cut at maxBytes. (A line begun
// in one Write and ended in another can make a file pass maxBytes by less
// than that line; writing whole lines keeps every file within maxBytes.)
type Writer struct {
	path     string
	maxBytes int64
	keep     int

	mu      sync.Mutex
	f       *os.File
	size    int64 // bytes in f
	lineLen int64 // bytes of the unfinished last line in f
	err     error // sticky: a failed rotation
}

// New opens path for appending (creating it 0600, and its directory 0700
// if missing; a symbolic link, a file that is not regular or one of another
// user is refused) and returns a Writer that keeps at most keep rotated files
// of at most maxBytes each besides path itself.
func New(path string, maxBytes int64, keep int) (*Writer, error) {
	if maxBytes < 1 || keep < 0 {
		return nil, fmt.Errorf("log %s: %w: maxBytes %d, keep %d", path, ErrBadLimits, maxBytes, keep)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("log %s: %w", path, err)
	}
	w := &Writer{path: path, maxBytes: maxBytes, keep: keep}
	if err := w.open(); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *Writer) open() error {
	// Never through a symbolic link, and only a regular file of this user.
	f, err := statefile.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("log %s: %w", w.path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("log %s: %w", w.path, err)
	}
	_ = f.Chmod(0o600)
	w.f, w.size, w.lineLen = f, fi.Size(), 0
	return nil
}

// Write writes p, rotating first when a line of it would not fit. It
// returns len(p) or the first error.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return 0, w.err
	}
	if w.f == nil {
		return 0, ErrClosed
	}
	written := 0
	for len(p) > 0 {
		seg := p
		if i := bytes.IndexByte(p, '\n'); i >= 0 {
			seg = p[:i+1]
		}
		over := w.size+int64(len(seg)) > w.maxBytes
		switch {
		case over && w.lineLen == 0 && w.size > 0:
			// A new line that does not fit: it starts the next file.
			if err := w.rotate(); err != nil {
				return written, err
			}
			continue
		case over && w.lineLen+int64(len(seg)) > w.maxBytes:
			// This line alone is too long: cut it where the file is full.
			if room := w.maxBytes - w.size; room > 0 {
				seg = seg[:room]
			} else {
				if err := w.rotate(); err != nil {
					return written, err
				}
				continue
			}
		}
		n, err := w.f.Write(seg)
		written += n
		w.size += int64(n)
		if err != nil {
			return written, fmt.Errorf("log %s: %w", w.path, err)
		}
		if seg[len(seg)-1] == '\n' {
			w.lineLen = 0
		} else {
			w.lineLen += int64(n)
		}
		p = p[n:]
	}
	return written, nil
}

// rotate shifts path.i to path.i+1, dropping path.keep, moves path to
// path.1 and opens a new path.
func (w *Writer) rotate() error {
	_ = w.f.Close()
	w.f = nil
	var err error
	if w.keep == 0 {
		err = os.Remove(w.path)
	} else {
		_ = os.Remove(rotated(w.path, w.keep))
		for i := w.keep - 1; i >= 1; i-- {
			if e := os.Rename(rotated(w.path, i), rotated(w.path, i+1)); e != nil && !errors.Is(e, os.ErrNotExist) {
				err = e
			}
		}
		if e := os.Rename(w.path, rotated(w.path, 1)); e != nil {
			err = e
		}
	}
	if oerr := w.open(); oerr != nil {
		w.err = oerr
		return oerr
	}
	if err != nil {
		return fmt.Errorf("log %s: rotating: %w", w.path, err)
	}
	return nil
}

// rotated is the name of the i-th rotated file of path.
func rotated(path string, i int) string { return path + "." + strconv.Itoa(i) }

// Files lists the files of the log at path, oldest first: path.N ...
// path.1, path (the rotated ones that exist, then path itself), for a
// reader of the whole log.
func Files(path string) []string {
	var older []string
	for i := 1; ; i++ {
		p := rotated(path, i)
		if _, err := os.Stat(p); err != nil {
			break
		}
		older = append([]string{p}, older...)
	}
	return append(older, path)
}

// Close closes the file. Later writes return ErrClosed.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}
