package main

import (
	"os"
	"sync"
	"time"
)

// outputGrace bounds how long output is read after a command ended: a
// descendant that escaped its process group may hold the pipes open.
const outputGrace = time.Second

// execProc is a command run in a task's context by ExecTask or
// ExecTaskStreaming: the task's environment and working directory, a
// process group (or, with a terminal, a session) of its own.
type execProc struct {
	execCmd          // the command, as this OS runs it
	tty     *os.File // pseudo-terminal master, or nil
	stdin   *os.File // write end of stdin; the master with a terminal
	stdout  *os.File // read end of stdout; the master with a terminal
	stderr  *os.File // read end of stderr; nil with a terminal
}

// closeAll closes every file that is not nil.
func closeAll(files ...*os.File) {
	for _, f := range files {
		if f != nil {
			_ = f.Close()
		}
	}
}

// closeStdin ends the command's input: closes the pipe, or with a terminal
// types Ctrl-D (end of file for a reader at the start of a line).
func (p *execProc) closeStdin() {
	if p.tty != nil {
		_, _ = p.tty.Write([]byte{4})
		return
	}
	if p.stdin != nil {
		_ = p.stdin.Close()
	}
}

// finish waits for the output readers (pumps) up to outputGrace, then
// closes every file, which ends readers still blocked.
func (p *execProc) finish(pumps *sync.WaitGroup) {
	done := make(chan struct{})
	go func() { pumps.Wait(); close(done) }()
	t := time.NewTimer(outputGrace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
	closeAll(p.tty, p.stdin, p.stdout, p.stderr)
	<-done
}

// pump reads f until it ends, handing each chunk to out, then calls end.
func pump(f *os.File, out func([]byte), end func()) {
	buf := make([]byte, 32<<10)
	for {
		n, err := f.Read(buf)
		if n > 0 {
			out(append([]byte(nil), buf[:n]...))
		}
		if err != nil { // EOF; EIO from a terminal whose last user left; closed
			end()
			return
		}
	}
}
