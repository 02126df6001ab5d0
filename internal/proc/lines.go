package proc

import (
	"bufio"
	"errors"
	"io"
	"strings"
)

// ReadHandshake reads the first line of stdout, newline included. If stdout
// closed first it returns what was printed and io.EOF. If no newline came
// within MaxLine bytes it returns those bytes and ErrLineTooLong, and from
// then on stdout is discarded, so that the program is never blocked writing
// to it; Stdout is then empty.
func (p *Process) ReadHandshake() (string, error) {
	var buf []byte
	defer func() { p.spool.countStdout(len(buf)) }()
	for {
		chunk, err := p.stdout.ReadSlice('\n')
		buf = append(buf, chunk...)
		switch {
		case len(buf) > MaxLine || (len(buf) == MaxLine && err != nil):
			rest := p.stdoutRest()
			p.stdoutGone.Store(true)
			go func() { _, _ = io.Copy(io.Discard, rest) }()
			return string(buf[:MaxLine]), ErrLineTooLong
		case err == nil:
			return string(buf), nil
		case !errors.Is(err, bufio.ErrBufferFull):
			return string(buf), err
		}
	}
}

// Stdout is the rest of stdout, after ReadHandshake. It ends when every
// writer has closed it, or KillTimeout after the exit.
func (p *Process) Stdout() io.Reader {
	if p.stdoutGone.Load() {
		return strings.NewReader("")
	}
	return p.stdoutRest()
}

// stdoutRest is what follows the handshake line; with spool files, reading
// it counts in the stdout offset.
func (p *Process) stdoutRest() io.Reader {
	if p.spool != nil {
		return p.spool.stdoutReader(p.stdout)
	}
	return p.stdout
}

// ForwardLines calls line for each line read from r, newline included, until
// r ends. A line longer than MaxLine is passed on in pieces of MaxLine bytes,
// so that a program printing without newlines cannot make the host hold
// unbounded memory. The buffer is small: it is held for a plugin's life.
func ForwardLines(r io.Reader, line func(string)) {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReader(r)
	}
	var pending []byte
	for {
		chunk, err := br.ReadSlice('\n')
		pending = append(pending, chunk...)
		if err == bufio.ErrBufferFull {
			if len(pending) >= MaxLine {
				line(string(pending))
				pending = pending[:0]
			}
			continue
		}
		if len(pending) > 0 {
			line(string(pending))
			pending = pending[:0]
		}
		if err != nil {
			return
		}
	}
}
