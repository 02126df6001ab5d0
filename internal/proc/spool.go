package proc

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync/atomic"

	"github.com/tetherplug/tether/internal/spool"
)

// SpoolFiles names the files that take a program's stdout and stderr
// instead of pipes (see package spool), so that a program meant to outlive
// its host neither dies of SIGPIPE nor loses output while no host reads.
// Each file is opened with spool.Open (created 0600 if missing; the
// directory must exist) and is the program's descriptor 1 or 2. The host
// reads from where each file ended when Start opened it: ReadHandshake and
// Stdout from the stdout file, Spec.Stderr lines from the stderr file. When
// the program exits both are read to their end (Exited still waits for the
// stderr lines, bounded by KillTimeout), and the readers stop KillTimeout
// after the exit. Output a process of the group writes after that drain
// stays in the file, for a reader resuming at SpoolOffsets.
type SpoolFiles struct {
	Stdout, Stderr string
}

// spooled is a Process's reading side of its spool files.
type spooled struct {
	out, err         *spool.Follower
	outDone, errDone atomic.Int64 // offsets of the bytes handed on
}

// launchSpooled starts cmd with the spool files of s as stdout and stderr.
func launchSpooled(cmd *exec.Cmd, s Spec) (*Process, error) {
	outW, outOff, err := openSpool(s.Spool.Stdout)
	if err != nil {
		return nil, err
	}
	errW, errOff, err := openSpool(s.Spool.Stderr)
	if err != nil {
		_ = outW.Close()
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	cmd, err = startBusyRetry(cmd)
	closeAll([]*os.File{outW, errW})
	if err != nil {
		return nil, err
	}
	sp := &spooled{out: spool.Follow(s.Spool.Stdout, outOff), err: spool.Follow(s.Spool.Stderr, errOff)}
	sp.outDone.Store(sp.out.Offset())
	sp.errDone.Store(sp.err.Offset())
	return newProcess(cmd, s, sp.out, sp.err, sp), nil
}

// openSpool opens a spool file for the program and says where it ends now:
// what the program writes comes after.
func openSpool(path string) (*os.File, int64, error) {
	f, err := spool.Open(path)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, 0, fmt.Errorf("spool: %w", err)
	}
	return f, fi.Size(), nil
}

// SpoolOffsets are, with Spec.Spool, the offsets in the stdout and stderr
// files up to which output has been handed on: the handshake line and what
// was read from Stdout (what Read returned) or passed on by ForwardStdout;
// the stderr lines Spec.Stderr has returned from. A
// new reader (spool.Follow) resuming there misses nothing. Without Spool
// they are 0.
func (p *Process) SpoolOffsets() (stdout, stderr int64) {
	if p.spool == nil {
		return 0, 0
	}
	return p.spool.outDone.Load(), p.spool.errDone.Load()
}

// ForwardStdout passes on the rest of stdout, after ReadHandshake, line by
// line as ForwardLines does, until it ends. With Spec.Spool each line
// counts in SpoolOffsets once line has returned from it, which reading
// Stdout through a buffer of one's own cannot do exactly. Like Stdout, it
// belongs to the one stdout reader.
func (p *Process) ForwardStdout(line func(string)) {
	if p.stdoutGone.Load() {
		return
	}
	if p.spool != nil {
		line = p.spool.count(&p.spool.outDone, line)
	}
	ForwardLines(p.stdout, line)
}

// countStderr wraps line so that each line's bytes count once it returns.
func (sp *spooled) countStderr(line func(string)) func(string) {
	return sp.count(&sp.errDone, line)
}

// count wraps line so that each line's bytes are added to n once it returns.
func (sp *spooled) count(n *atomic.Int64, line func(string)) func(string) {
	return func(l string) {
		line(l)
		n.Add(int64(len(l)))
	}
}

// countStdout counts n bytes of stdout as handed on. No-op without spool.
func (sp *spooled) countStdout(n int) {
	if sp != nil {
		sp.outDone.Add(int64(n))
	}
}

// stdoutReader reads br, counting what it returns.
func (sp *spooled) stdoutReader(br *bufio.Reader) io.Reader {
	return countingReader{br, sp}
}

type countingReader struct {
	r  io.Reader
	sp *spooled
}

func (c countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.sp.countStdout(n)
	return n, err
}

// drain makes both readers stop at the files' current end. No-op without
// spool.
func (sp *spooled) drain() {
	if sp != nil {
		sp.out.Drain()
		sp.err.Drain()
	}
}

// stop ends both readers at once.
func (sp *spooled) stop() {
	sp.out.Stop()
	sp.err.Stop()
}
