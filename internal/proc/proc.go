package proc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// EnvHostPipe names the environment variable that tells a plugin which file
// descriptor is its host pipe: the read end of a pipe whose write end only
// the host holds, so that reading EOF from it means the host is gone (or
// has let the plugin go).
const EnvHostPipe = "TETHER_HOST_PIPE"

// MaxLine is the longest forwarded line and the longest handshake line, in
// bytes, newline included.
const MaxLine = 64 << 10

// ErrChecksumMismatch is wrapped by the error Start returns when the file's
// SHA-256 is not Spec.Checksum.
var ErrChecksumMismatch = errors.New("checksum mismatch")

// ErrLineTooLong is returned by ReadHandshake when stdout had no newline
// within its first MaxLine bytes.
var ErrLineTooLong = errors.New("no newline within the first 64 KiB of stdout")

// ErrEmptyPath is returned by Start when Spec.Path is empty.
var ErrEmptyPath = errors.New("no program path")

// ErrNotReaped is wrapped by Terminate's error when the process was not
// reaped within a bound after SIGKILL (it may be stuck in the kernel).
var ErrNotReaped = errors.New("process not reaped after SIGKILL")

// defaultKillTimeout is Spec.KillTimeout's zero value.
const defaultKillTimeout = 2 * time.Second

// beforeStart is called between hashing the program and starting it: a
// test hook to replace the file at that moment.
var beforeStart = func() {}

// Spec says what to start and how.
type Spec struct {
	// Path is the program, run as given: never looked up in $PATH, so a
	// name without a slash is relative to the working directory. It is
	// the program's argv[0].
	Path string
	// Args are the arguments after the program name.
	Args []string
	// Env is the whole environment; nil means the host's own.
	Env []string
	// Checksum, if set, is the SHA-256 the file must have. The very file
	// that was hashed is executed (see checkedProgram), so a file
	// renamed over Path after the check does not run.
	Checksum []byte
	// DieWithHost gives the program a parent-death signal (SIGTERM) and a
	// host pipe on fd 3, named by EnvHostPipe=3 added to Env; and when the
	// program exits, what it left running in its process group is killed.
	DieWithHost bool
	// Dir is a directory removed once the process has exited, or once
	// Start has failed ("" for none).
	Dir string
	// Stderr is called with each stderr line, newline included, in order,
	// from one goroutine. A line longer than MaxLine comes in pieces. Nil
	// discards stderr.
	Stderr func(line string)
	// KillTimeout bounds what an exit waits for: after the program exits,
	// how long stderr may take to drain (and, with DieWithHost, how long
	// the rest of its process group has after SIGTERM before SIGKILL);
	// in Terminate, part of the bound on the reap after SIGKILL. 0 means 2s.
	KillTimeout time.Duration
	// Spool, if set, gives the program files instead of pipes for its
	// stdout and stderr (see SpoolFiles).
	Spool *SpoolFiles
}

// Process is one started program. Its methods are safe for concurrent use,
// except ReadHandshake and reading Stdout, which belong to one reader.
type Process struct {
	cmd         *exec.Cmd
	dir         string
	copyDir     string  // private copy of a checked program, or ""
	sys         sysProc // what the OS keeps of the process besides its pid
	dieWithHost bool
	killTimeout time.Duration

	stdout     *bufio.Reader
	outR, errR *os.File
	stdoutGone atomic.Bool // stdout is being discarded after ErrLineTooLong
	stderrDone chan struct{}
	spool      *spooled // nil with pipes

	hostW    *os.File // write end of the host pipe, never written
	hostOnce sync.Once

	mu     sync.Mutex // held while signalling and while reaping
	reaped bool

	exited   chan struct{}
	waitErr  error
	exitCode int
}

// Start starts the program s describes, with stdout and stderr on pipes of
// its own (not exec.Cmd's, which Wait closes and which can lose what a
// program printed just before it exited), in a process group of its own.
// Stderr is forwarded to s.Stderr from now on; stdout waits for
// ReadHandshake. If the OS setup of the running program fails (its Job
// Object on Windows: ErrJobObject), the program is killed and reaped before
// Start returns that error.
func Start(s Spec) (p *Process, err error) {
	defer func() {
		if err != nil && s.Dir != "" {
			_ = os.RemoveAll(s.Dir)
		}
	}()
	if s.Path == "" {
		return nil, ErrEmptyPath
	}
	cmd, files, hostW, copyDir, err := command(s)
	defer closeAll(files) // the child has its own copies
	if err != nil {
		return nil, err
	}
	p, err = launch(cmd, s)
	if err != nil {
		_ = hostW.Close()
		removeDir(copyDir)
		return nil, err
	}
	p.hostW, p.copyDir = hostW, copyDir
	if err := started(&p.sys, p.cmd.Process.Pid, s.DieWithHost); err != nil {
		go p.wait()
		// Killed and reaped (bounded) before Start returns: nothing of it
		// runs on unwatched.
		return nil, errors.Join(err, p.Terminate(context.Background(), 0))
	}
	go p.wait()
	return p, nil
}

// started is sysProc.started, which sets up what the OS keeps of the
// process once it runs (the Job Object on Windows); tests make it fail.
var started = (*sysProc).started

// command builds the exec.Cmd for s, with Path set directly so that nothing
// is looked up in $PATH. files are the descriptors passed to the child, for
// the caller to close once it has started; hostW is the host pipe's write
// end; copyDir, when not "", holds a private copy of the checked program,
// to remove once the process has exited.
func command(s Spec) (cmd *exec.Cmd, files []*os.File, hostW *os.File, copyDir string, err error) {
	env := s.Env
	if env == nil {
		env = os.Environ()
	}
	env = slices.Clip(env) // appending must not write into the caller's array
	if s.DieWithHost {
		var hostR *os.File
		if hostR, hostW, env, err = hostPipe(env); err != nil {
			return nil, nil, nil, "", fmt.Errorf("host pipe: %w", err)
		}
		if hostR != nil {
			files = append(files, hostR)
		}
	}
	path := s.Path
	if len(s.Checksum) > 0 {
		if path, files, copyDir, err = checkedProgram(s.Path, s.Checksum, files); err != nil {
			_ = hostW.Close()
			return nil, files, nil, "", err
		}
	}
	beforeStart()
	cmd = &exec.Cmd{
		Path:        path,
		Args:        append([]string{s.Path}, s.Args...),
		Env:         env,
		ExtraFiles:  files,
		SysProcAttr: sysProcAttr(s.DieWithHost),
	}
	return cmd, files, hostW, copyDir, nil
}

// launch gives cmd tether's pipes, starts it and the stderr forwarder.
// startBusyRetry starts cmd, trying again a few times while the kernel says
// the program's file is busy (ETXTBSY). That happens to a program written
// just before it is run, while another goroutine of the host forks: the
// child holds the writer's descriptor until it execs. It returns the
// command that started (an exec.Cmd cannot be started twice).
func startBusyRetry(cmd *exec.Cmd) (*exec.Cmd, error) {
	for attempt := 1; ; attempt++ {
		err := cmd.Start()
		if !errors.Is(err, syscall.ETXTBSY) || attempt == busyRetries {
			return cmd, err
		}
		time.Sleep(time.Duration(attempt) * 5 * time.Millisecond)
		cmd = &exec.Cmd{Path: cmd.Path, Args: cmd.Args, Env: cmd.Env, ExtraFiles: cmd.ExtraFiles,
			SysProcAttr: cmd.SysProcAttr, Stdout: cmd.Stdout, Stderr: cmd.Stderr}
	}
}

// busyRetries bounds startBusyRetry: at most about a quarter of a second.
const busyRetries = 10

func launch(cmd *exec.Cmd, s Spec) (*Process, error) {
	if s.Spool != nil {
		return launchSpooled(cmd, s)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		closeAll([]*os.File{outR, outW})
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	cmd, err = startBusyRetry(cmd)
	closeAll([]*os.File{outW, errW})
	if err != nil {
		closeAll([]*os.File{outR, errR})
		return nil, err
	}
	p := newProcess(cmd, s, outR, errR, nil)
	p.outR, p.errR = outR, errR
	return p, nil
}

// newProcess makes the Process for the started cmd, reading stdout from
// out and forwarding stderr lines from errs, and starts the forwarder.
// With spool, the forwarded bytes are counted in its stderr offset.
func newProcess(cmd *exec.Cmd, s Spec, out, errs io.Reader, sp *spooled) *Process {
	p := &Process{
		cmd: cmd, dir: s.Dir, dieWithHost: s.DieWithHost, killTimeout: s.KillTimeout,
		stdout:     bufio.NewReaderSize(out, 4096),
		stderrDone: make(chan struct{}),
		exited:     make(chan struct{}),
		exitCode:   -1,
		spool:      sp,
	}
	if p.killTimeout <= 0 {
		p.killTimeout = defaultKillTimeout
	}
	line := s.Stderr
	if line == nil {
		line = func(string) {}
	}
	if sp != nil {
		line = sp.countStderr(line)
	}
	go func() {
		defer close(p.stderrDone)
		ForwardLines(errs, line)
	}()
	return p
}

// removeDir removes dir and what it holds, unless dir is "".
func removeDir(dir string) {
	if dir != "" {
		_ = os.RemoveAll(dir)
	}
}

func closeAll(files []*os.File) {
	for _, f := range files {
		if f != nil {
			_ = f.Close()
		}
	}
}

// Pid is the process id, which is also its process group id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// closeHostPipe closes the host pipe's write end: the plugin reads EOF.
func (p *Process) closeHostPipe() {
	p.hostOnce.Do(func() {
		if p.hostW != nil {
			_ = p.hostW.Close()
		}
	})
}
