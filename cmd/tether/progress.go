package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"
)

// progressAfter is how long a wait goes unremarked: longer ones show a
// progress line.
const progressAfter = time.Second

// progressEvery is how often the progress line is rewritten.
const progressEvery = 100 * time.Millisecond

// statusLine is one line on a terminal, rewritten in place, that says what
// a command is waiting for. On anything but a terminal it writes nothing.
type statusLine struct {
	mu    sync.Mutex
	w     io.Writer // nil: not a terminal
	width int       // the terminal's columns; longer lines are cut
	shown bool
}

// statusOn is a status line on w when w is a terminal, one that writes
// nothing otherwise.
func statusOn(w io.Writer) *statusLine {
	if f, ok := w.(*os.File); ok {
		return newStatusLine(f)
	}
	return &statusLine{}
}

// stderrLine is the status line of the process's stderr.
func stderrLine() *statusLine { return newStatusLine(os.Stderr) }

// newStatusLine is a status line on f, which writes nothing unless f is a
// terminal.
func newStatusLine(f *os.File) *statusLine {
	fd := int(f.Fd())
	if !term.IsTerminal(fd) {
		return &statusLine{}
	}
	width, _, err := term.GetSize(fd)
	if err != nil || width <= 0 {
		width = 80
	}
	return &statusLine{w: f, width: width}
}

// set shows text in place of what the line said.
func (s *statusLine) set(text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w == nil {
		return
	}
	if r := []rune(text); len(r) > s.width-1 {
		text = string(r[:s.width-2]) + "…"
	}
	fmt.Fprint(s.w, "\r\x1b[K"+text)
	s.shown = true
}

// clear erases the line, before other output or at the end of the wait.
func (s *statusLine) clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w != nil && s.shown {
		fmt.Fprint(s.w, "\r\x1b[K")
		s.shown = false
	}
}

// waitLine shows, from progressAfter on and until the returned stop is
// called, the line what(elapsed) on s, rewritten every progressEvery. stop
// erases it.
func (s *statusLine) waitLine(what func(elapsed time.Duration) string) (stop func()) {
	if s.w == nil {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(finished)
		select {
		case <-done:
			return
		case <-time.After(progressAfter):
		}
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			s.set(what(time.Since(start)))
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			<-finished
			s.clear()
		})
	}
}

// connectProgress counts a load's connection attempts and keeps the last
// one's error, for the progress line.
type connectProgress struct {
	mu       sync.Mutex
	attempts int
	last     error
}

// observe records one attempt (network.WithConnectObserver).
func (p *connectProgress) observe(addr string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.attempts++
	if err != nil {
		p.last = err
	}
}

// line is the progress line of a load of target waiting for elapsed.
func (p *connectProgress) line(target string, elapsed time.Duration) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	secs := fmt.Sprintf("%.1fs", elapsed.Seconds())
	switch {
	case p.last != nil:
		return fmt.Sprintf("waiting for %s: %v (attempt %d, %s)", target, p.last, p.attempts, secs)
	case p.attempts > 0:
		return fmt.Sprintf("waiting for %s to answer (attempt %d, %s)", target, p.attempts, secs)
	}
	return fmt.Sprintf("waiting for %s (%s)", target, secs)
}
