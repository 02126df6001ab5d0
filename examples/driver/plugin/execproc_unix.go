//go:build unix

package main

import (
	"errors"
	"os"
	"os/exec"
	"sync"
	"syscall"

	"github.com/creack/pty"
)

// execCmd is the command and whether it was reaped (its process group id
// may be reused after).
type execCmd struct {
	cmd *exec.Cmd

	mu     sync.Mutex
	reaped bool
}

// startExec starts argv. Without a terminal and with noStdin, stdin is
// /dev/null.
func startExec(spec shimSpec, argv []string, tty bool, size *pty.Winsize, noStdin bool) (*execProc, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env, cmd.Dir = spec.Env, spec.Dir
	p := &execProc{execCmd: execCmd{cmd: cmd}}
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

// wait waits for the command to end, kills what is left of its process
// group while its zombie still holds the group id, and reaps it.
func (p *execCmd) wait() (int32, string, error) {
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
func (p *execCmd) kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.reaped {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	}
}
