package logrotate

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"time"
)

// ReadTail returns the last n lines (without their newlines) written to
// path, oldest first, reading back through path.1, path.2 … as far as
// needed. Missing rotated files end the search; a missing path gives an
// error wrapping fs.ErrNotExist.
func ReadTail(path string, n int) ([]string, error) {
	if n <= 0 {
		return nil, nil
	}
	var lines []string // newest file's lines first, in chunks
	for i := 0; len(lines) < n; i++ {
		name := path
		if i > 0 {
			name = rotated(path, i)
		}
		b, err := os.ReadFile(name)
		if err != nil {
			if i > 0 && errors.Is(err, os.ErrNotExist) {
				break
			}
			return nil, err
		}
		got := splitLines(b)
		lines = append(got, lines...)
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines, nil
}

// splitLines splits b into lines without their newlines.
func splitLines(b []byte) []string {
	b = bytes.TrimSuffix(b, []byte("\n"))
	if len(b) == 0 {
		return nil
	}
	return strings.Split(string(b), "\n")
}

// followPoll is how often Follow looks for new lines.
var followPoll = 200 * time.Millisecond

// Follow calls line with each line (without its newline) appended to path
// from now on, across rotations (what was appended to the old file before
// the rotation is read first), until ctx ends, when it returns ctx.Err().
// It polls every 200ms; should the file rotate more than once between two
// polls, the lines of the intermediate files are not passed on. An error opening path is returned at once.
func Follow(ctx context.Context, path string, line func(string)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		return err
	}
	br := bufio.NewReader(f)
	var partial string
	t := time.NewTicker(followPoll)
	defer t.Stop()
	for {
		partial = readLines(br, partial, line)
		if next := reopened(f, path); next != nil {
			partial = readLines(br, partial, line) // the old file's last words
			_ = f.Close()
			f = next
			br.Reset(f)
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// readLines passes on the complete lines br has, and returns the start of
// an unfinished one, to be completed by the next read.
func readLines(br *bufio.Reader, partial string, line func(string)) string {
	for {
		s, err := br.ReadString('\n')
		partial += s
		if err != nil {
			return partial
		}
		line(strings.TrimSuffix(partial, "\n"))
		partial = ""
	}
}

// reopened returns path opened anew if it is no longer the file f (it was
// rotated), or nil.
func reopened(f *os.File, path string) *os.File {
	cur, err := f.Stat()
	if err != nil {
		return nil
	}
	now, err := os.Stat(path)
	if err != nil || os.SameFile(cur, now) {
		return nil
	}
	next, err := os.Open(path)
	if err != nil {
		return nil
	}
	return next
}
