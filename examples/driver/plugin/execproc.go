package main

import (
	"errors"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
)

// outputGrace bounds how long output is read after a command ended: a
// descendant that escaped its process group may hold the pipes open.
const outputGrace = time.Second

// execProc is a command run in a task's context by ExecTask or
// ExecTaskStreaming: the task's environment and working directory, a
// process group (or, with a terminal, a session) of its own.
type execProc struct {
	cmd    *exec.Cmd
	tty    *os.File // pseudo-terminal master, or nil
	stdin  *os.File // write end of stdin; the master with a terminal
	stdout *os.File // read end of stdout; the master with a terminal
	stderr *os.File // read end of stderr; nil with a terminal

	mu     sync.Mutex
	reaped bool
}

// startExec starts argv. Without a terminal and with noStdin, stdin is
// /dev/null.
func startExec(spec shimSpec, argv []string, tty bool, size *pty.Winsize, noStdin bool) (*execProc, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env, cmd.Dir = spec.Env, spec.Dir
	p := &execProc{cmd: cmd}
	if tty {
		master, err := pty.StartWithSize(cmd, size) // sets Setsid and Setctty
		if err != nil {
			return nil, err
		}
		p.tty, p.stdin, p.stdout = master, master, master
		return p, nil
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		closeAll(outR, outW)
		return nil, err
	}
	p.stdout, p.stderr = outR, errR
	cmd.Stdout, cmd.Stderr = outW, errW
	childEnds := []*os.File{outW, errW}
	if !noStdin {
		inR, inW, err := os.Pipe()
		if err != nil {
			closeAll(outR, outW, errR, errW)
			return nil, err
		}
		cmd.Stdin, p.stdin = inR, inW
		childEnds = append(childEnds, inR)
	}
	err = cmd.Start()
	closeAll(childEnds...)
	if err != nil {
		closeAll(p.stdout, p.stderr, p.stdin)
		return nil, err
	}
	return p, nil
}

// closeAll closes every file that is not nil.
func closeAll(files ...*os.File) {
	for _, f := range files {
		if f != nil {
			_ = f.Close()
		}
	}
}

// wait waits for the command to end, kills what is left of its process
// group while its zombie still holds the group id, and reaps it.
func (p *execProc) wait() (int32, string, error) {
	pid := p.cmd.Process.Pid
	werr := waitKeepZombie(pid)
	p.mu.Lock()
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	p.reaped = true
	p.mu.Unlock()
	err := p.cmd.Wait()
	var ee *exec.ExitError
	if p.cmd.ProcessState == nil {
		return -1, "", errors.Join(werr, err)
	}
	if err != nil && !errors.As(err, &ee) {
		return -1, "", err
	}
	code, sig := exitStatus(p.cmd.ProcessState)
	return code, sig, nil
}

// kill kills the command's process group unless it was already reaped.
func (p *execProc) kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.reaped {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
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
