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
//
// The pipes are tether's own, not cmd.StdoutPipe's: exec.Cmd closes those in
// Wait, which can throw away what a program printed just before it exited,
// the very output that says why it is not a plugin. These are read to the
// end, and closed a grace period after the exit in case a process the
// plugin started still holds them.
func startProcess(cmd *exec.Cmd, dir string, fwd *logfwd.Forwarder) (*process, error) {
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	err = cmd.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return nil, err
	}
	p := &process{
		cmd: cmd, dir: dir, stderr: fwd,
		exited:     make(chan struct{}),
		stdout:     bufio.NewReaderSize(outR, 4096),
		stderrDone: make(chan struct{}),
	}
	go func() {
		defer close(p.stderrDone)
		forwardLines(errR, fwd.Line)
	}()
	go func() {
		// Report the exit once stderr is drained, so that the exit error
		// holds the lines a dying plugin printed; but a grandchild holding
		// stderr open must not stall the exit status.
		select {
		case <-p.stderrDone:
		case <-time.After(processExitGrace):
		}
		p.waitErr = cmd.Wait()
		p.exitCodeVal = exitCode(cmd.ProcessState)
		p.removeDir() // before close: once exited, nothing is left
		close(p.exited)
		time.AfterFunc(processExitGrace, func() {
			outR.Close()
			errR.Close()
		})
	}()
	return p, nil
}

// processExitGrace bounds how long an exit waits for output to drain.
const processExitGrace = 2 * time.Second

// forwardLines calls line for each line read from r. A line longer than
// maxLogLine is passed on in pieces of that size, so a plugin printing
// without newlines cannot make the host hold unbounded memory. The reader's
// buffer is small: it is held for the plugin's whole life, twice per plugin.
func forwardLines(r io.Reader, line func(string)) {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReader(r)
	}
	var pending []byte
	for {
		chunk, err := br.ReadSlice('\n')
		pending = append(pending, chunk...)
		if err == bufio.ErrBufferFull {
			if len(pending) >= maxLogLine {
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

// maxLogLine bounds one forwarded line.
const maxLogLine = 64 << 10

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
