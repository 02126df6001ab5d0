package proc

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// EnvHostPipe names the environment variable that tells a plugin which file
// descriptor is its host pipe.
const EnvHostPipe = "TETHER_HOST_PIPE"

// MaxLine bounds one forwarded line and the handshake line.
const MaxLine = 64 << 10

// ErrChecksumMismatch is wrapped by Start's checksum error.
var ErrChecksumMismatch = errors.New("checksum mismatch")

// ErrLineTooLong is returned by ReadHandshake when no newline came within MaxLine bytes.
var ErrLineTooLong = errors.New("no newline within the first 64 KiB")

// beforeStart is a test hook called between hashing and starting.
var beforeStart = func() {}

// Spec says what to start and how.
type Spec struct {
	Path        string
	Args        []string
	Env         []string
	Checksum    []byte
	DieWithHost bool
	Dir         string
	Stderr      func(line string)
	KillTimeout time.Duration
}

// Process is one started program.
type Process struct {
	cmd     *exec.Cmd
	dir     string
	exited  chan struct{}
	waitErr error

	stdout      *bufio.Reader
	stderrDone  chan struct{}
	removeOnce  sync.Once
	exitCodeVal int
}

// Start starts the program (straight port of the old logic).
func Start(s Spec) (*Process, error) {
	cmd := exec.Command(s.Path, s.Args...)
	if len(s.Checksum) > 0 {
		if err := verifyChecksum(cmd.Path, s.Checksum); err != nil {
			return nil, err
		}
	}
	beforeStart()
	cmd.Env = s.Env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if s.DieWithHost {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGTERM
	}
	line := s.Stderr
	if line == nil {
		line = func(string) {}
	}
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
		cmd: cmd, dir: s.Dir,
		exited:     make(chan struct{}),
		stdout:     bufio.NewReaderSize(outR, 4096),
		stderrDone: make(chan struct{}),
	}
	go func() {
		defer close(p.stderrDone)
		ForwardLines(errR, line)
	}()
	go func() {
		select {
		case <-p.stderrDone:
		case <-time.After(processExitGrace):
		}
		p.waitErr = cmd.Wait()
		p.exitCodeVal = exitCode(cmd.ProcessState)
		p.removeDir()
		close(p.exited)
		time.AfterFunc(processExitGrace, func() {
			outR.Close()
			errR.Close()
		})
	}()
	return p, nil
}

type process = Process

const processExitGrace = 2 * time.Second

// ForwardLines calls line for each line read from r.
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

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// HasExited tells whether the process has exited.
func (p *Process) HasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// Exited is closed once the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// WaitErr is what Wait said.
func (p *Process) WaitErr() error {
	if !p.HasExited() {
		return nil
	}
	return p.waitErr
}

// Stdout is the rest of stdout.
func (p *Process) Stdout() io.Reader { return p.stdout }

// ExitCode is the exit status, or -1.
func (p *Process) ExitCode() int {
	if !p.HasExited() {
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

// Signal sends sig to the process group.
func (p *Process) Signal(sig syscall.Signal) {
	if p.HasExited() {
		return
	}
	if err := syscall.Kill(-p.Pid(), sig); err != nil {
		_ = p.cmd.Process.Signal(sig)
	}
}

// WaitExit waits up to d for the exit.
func (p *Process) WaitExit(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.exited:
		return true
	case <-t.C:
		return false
	}
}

// Terminate escalates SIGTERM then SIGKILL.
func (p *Process) Terminate(ctx context.Context, d time.Duration) error {
	if p.WaitExit(0) {
		return nil
	}
	p.Signal(syscall.SIGTERM)
	if p.WaitExit(d) {
		return nil
	}
	p.Signal(syscall.SIGKILL)
	<-p.exited
	return nil
}

func (p *Process) removeDir() {
	p.removeOnce.Do(func() {
		if p.dir != "" {
			_ = os.RemoveAll(p.dir)
		}
	})
}

// ReadHandshake reads the first line of stdout.
func (p *Process) ReadHandshake() (string, error) {
	var buf []byte
	for len(buf) < MaxLine {
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

func verifyChecksum(path string, want []byte) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	if got := h.Sum(nil); string(got) != string(want) {
		return fmt.Errorf("SHA-256 is %s, want %s", hex.EncodeToString(got), hex.EncodeToString(want))
	}
	return nil
}

func (p *Process) closeHostPipe() {}
