package logfwd

import (
	"bytes"
	"io"
	"sync"
)

// MaxLine bounds one line a LineWriter passes on: a longer line is passed on
// in pieces of MaxLine bytes, so a plugin printing without newlines cannot
// make the host hold unbounded memory.
const MaxLine = 64 << 10

// LineWriter reassembles lines from chunks cut anywhere, such as the reads
// of a stream, and passes each complete line on with its newline. It is safe
// for concurrent use; lines are passed on in the order they were written.
type LineWriter struct {
	line func(string)

	mu      sync.Mutex
	partial []byte // the line begun and not yet ended, at most MaxLine bytes
	cut     bool   // the last line passed on was a MaxLine piece
	closed  bool
}

// NewLineWriter returns a LineWriter passing each line to line (for example
// Forwarder.Line, which accepts its newline).
func NewLineWriter(line func(string)) *LineWriter {
	return &LineWriter{line: line}
}

// Write passes on every line p completes and keeps the rest for the next
// Write. It never fails, except after Close (io.ErrClosedPipe).
func (w *LineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, io.ErrClosedPipe
	}
	n := len(p)
	for len(p) > 0 {
		end, complete := len(p), false
		if i := bytes.IndexByte(p, '\n'); i >= 0 {
			end, complete = i+1, true
		}
		if w.cut && len(w.partial) == 0 && end == 1 && complete {
			// The newline ending a line passed on in pieces: not a line.
			w.cut = false
			p = p[1:]
			continue
		}
		if room := MaxLine - len(w.partial); end > room {
			w.partial = append(w.partial, p[:room]...)
			p = p[room:]
			w.flush(true)
			continue
		}
		w.partial = append(w.partial, p[:end]...)
		p = p[end:]
		if complete {
			w.flush(false)
		}
	}
	return n, nil
}

// Close passes on the last line if it has no newline. Later Writes fail;
// Close itself can be called again.
func (w *LineWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed && len(w.partial) > 0 {
		w.flush(false)
	}
	w.closed = true
	return nil
}

func (w *LineWriter) flush(cut bool) {
	w.line(string(w.partial))
	w.partial = w.partial[:0]
	w.cut = cut
}

var _ io.WriteCloser = (*LineWriter)(nil)
