package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/tetherplug/tether/daemon"
	"github.com/tetherplug/tether/supervise"
)

// startupQuiet is how long tether run's start-up goes unremarked; a longer
// one shows a progress line on a terminal.
const startupQuiet = time.Second

// startupEvery is how often the progress line is rewritten.
const startupEvery = 200 * time.Millisecond

// ttyLine is a progress line at the bottom of a terminal, rewritten in
// place, with the log records written through it above it: each record
// erases the line, is written, and the line is drawn again.
type ttyLine struct {
	mu    sync.Mutex
	w     io.Writer
	width int
	text  string // shown now; "" for none
}

// stderrTTYLine is a ttyLine on stderr, or nil when stderr is not a
// terminal: then nothing is shown.
func stderrTTYLine() *ttyLine {
	fd := int(os.Stderr.Fd())
	if !term.IsTerminal(fd) {
		return nil
	}
	width, _, err := term.GetSize(fd)
	if err != nil || width <= 0 {
		width = 80
	}
	return &ttyLine{w: os.Stderr, width: width}
}

// Write writes a log record above the line.
func (l *ttyLine) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.text == "" {
		return l.w.Write(p)
	}
	if _, err := io.WriteString(l.w, "\r\x1b[K"); err != nil {
		return 0, err
	}
	n, err := l.w.Write(p)
	if err == nil {
		_, err = io.WriteString(l.w, l.text)
	}
	return n, err
}

// set shows text in place of the line; "" erases it.
func (l *ttyLine) set(text string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r := []rune(text); len(r) > l.width-1 {
		text = string(r[:l.width-2]) + "…"
	}
	if text == "" && l.text == "" {
		return
	}
	_, _ = io.WriteString(l.w, "\r\x1b[K"+text)
	l.text = text
}

// showStartup shows, from startupQuiet on, how many of the daemon's plugins
// are ready and which ones it waits for, until none is starting or waiting
// to restart, or ctx ends; then it erases the line.
func (l *ttyLine) showStartup(ctx context.Context, d *daemon.Daemon) {
	defer l.set("")
	t := time.NewTimer(startupQuiet)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.StopRequested():
			return
		case <-t.C:
		}
		text, waiting := startupText(d.Supervisor().Status())
		if !waiting {
			return
		}
		l.set(text)
		t.Reset(startupEvery)
	}
}

// startupText is the progress line for the instances' states, and whether
// any is still on its way (starting, or waiting to start again).
func startupText(sts []supervise.Status) (string, bool) {
	ready := 0
	var waiting []string
	for _, st := range sts {
		switch st.State {
		case supervise.StateRunning:
			ready++
		case supervise.StateStarting, supervise.StateBackoff:
			w := fmt.Sprintf("%s (%s %s)", st.Name, st.State, time.Since(st.Since).Round(100*time.Millisecond))
			if st.State == supervise.StateBackoff && st.LastErr != "" {
				w = fmt.Sprintf("%s (%s: %s)", st.Name, st.State, oneLine(st.LastErr))
			}
			waiting = append(waiting, w)
		}
	}
	if len(waiting) == 0 {
		return "", false
	}
	return fmt.Sprintf("tether run: %d of %d plugins ready; waiting for %s", ready, len(sts), strings.Join(waiting, ", ")), true
}
