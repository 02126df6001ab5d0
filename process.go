package tether

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/tetherplug/tether/internal/logfwd"
)

// process is one launched plugin program: its command, its exit, and the
// readers that drain its stdout and stderr.
type process struct {
	cmd     *exec.Cmd
	dir     string // private socket directory, removed after exit
	stderr  *logfwd.Forwarder
	exited  chan struct{}
	waitErr error

	stdout      *bufio.Reader
	stderrDone  chan struct{}
	removeOnce  sync.Once
	exitCodeVal int
}

// start runs cmd with its stdout and stderr captured. Stderr lines go to fwd
// as they come.
func startProcess(cmd *exec.Cmd, dir string, fwd *logfwd.Forwarder) (*process, error) {
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{
		cmd: cmd, dir: dir, stderr: fwd,
		exited:     make(chan struct{}),
		stdout:     bufio.NewReaderSize(out, 4096),
		stderrDone: make(chan struct{}),
	}
	go func() {
		defer close(p.stderrDone)
		forwardLines(errPipe, fwd.Line)
	}()
	go func() {
		// Wait only after stderr is drained: exec.Cmd closes the pipes in
		// Wait, and the lines a dying plugin printed are the ones we need.
		// A grandchild holding stderr open must not stall the exit status.
		select {
		case <-p.stderrDone:
		case <-time.After(processExitGrace):
		}
		p.waitErr = cmd.Wait()
		p.exitCodeVal = exitCode(cmd.ProcessState)
		p.removeDir() // before exited is closed: a host may exit right after
		close(p.exited)
	}()
	return p, nil
}

// processExitGrace bounds how long an exit waits for output to drain.
const processExitGrace = 2 * time.Second

func forwardLines(r io.Reader, line func(string)) {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		s, err := br.ReadString('\n')
		if s != "" {
			line(s)
		}
		if err != nil {
			return
		}
	}
}

func (p *process) pid() int { return p.cmd.Process.Pid }

func (p *process) hasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// exitCode is the exit status, or -1 while running or after a signal.
func (p *process) exitCode() int {
	if !p.hasExited() {
		return -1
	}
	return p.exitCodeVal
}

func exitCode(ps *os.ProcessState) int {
	if ps == nil {
		return -1
	}
	return ps.ExitCode()
}

// signal sends sig to the plugin's process group, so that processes the
// plugin started die with it unless they left the group.
func (p *process) signal(sig syscall.Signal) {
	if p.hasExited() {
		return
	}
	if err := syscall.Kill(-p.pid(), sig); err != nil {
		_ = p.cmd.Process.Signal(sig)
	}
}

// waitExit waits up to d for the process to exit.
func (p *process) waitExit(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.exited:
		return true
	case <-t.C:
		return false
	}
}

// terminate escalates SIGTERM then SIGKILL, each wait bounded by d, and
// returns once the process has been reaped.
func (p *process) terminate(d time.Duration) {
	if p.waitExit(0) {
		return
	}
	p.signal(syscall.SIGTERM)
	if p.waitExit(d) {
		return
	}
	p.signal(syscall.SIGKILL)
	<-p.exited
}

func (p *process) removeDir() {
	p.removeOnce.Do(func() {
		if p.dir != "" {
			_ = os.RemoveAll(p.dir)
		}
	})
}

// readHandshake reads the first line of stdout. It returns io.EOF if stdout
// closed first, with whatever was printed.
func (p *process) readHandshake() (string, error) {
	var buf []byte
	for len(buf) < maxHandshakeLine {
		chunk, err := p.stdout.ReadSlice('\n')
		buf = append(buf, chunk...)
		if err == nil {
			return string(buf), nil
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return string(buf), err
		}
	}
	return string(buf), errors.New("no newline in the first 64 KiB")
}
