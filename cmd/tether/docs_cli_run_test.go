//go:build unix

package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tetherplug/tether/internal/doctest"
)

// docPort is the port the doc's network examples use. A block runs with a
// free port in its place (in commands; in output the port is written
// back), so that it cannot collide with another test.
const docPort = "127.0.0.1:7000"

// docMetrics is the address the doc's metrics examples serve on; it is
// replaced by a free one as docPort is.
const docMetrics = "127.0.0.1:9090"

// docCmdTimeout bounds each command of an example, and the wait for a
// background one to listen or to stop.
const docCmdTimeout = 30 * time.Second

// docSession is one example's run: its directories, its port, and the
// background processes its commands started.
type docSession struct {
	t    *testing.T
	bins docBins
	root string // holds dir, tmp and home
	dir  string // the working directory
	tmp  string // TMPDIR, where launched plugins' sockets go
	port string // the free address standing for docPort
	// metrics is the free address standing for docMetrics
	metrics string
	bg      []*docProc
}

// docProc is a background command.
type docProc struct {
	cmd  doctest.Cmd
	c    *exec.Cmd
	mark string
	out  bytes.Buffer // read only once done has answered
	done chan error
	over bool // done has answered
}

// newDocSession prepares a fresh directory; the session's background
// processes are stopped, and leaks checked, when t ends.
func newDocSession(t *testing.T, bins docBins) *docSession {
	root := t.TempDir()
	s := &docSession{t: t, bins: bins, root: root, dir: filepath.Join(root, "work"), tmp: filepath.Join(root, "tmp")}
	for _, d := range []string{s.dir, s.tmp, filepath.Join(root, "home")} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	bins.prepare(t, s.dir)
	s.port, s.metrics = freeAddr(t), freeAddr(t)
	t.Cleanup(s.stop)
	return s
}

// freeAddr is a loopback address no one listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// substitute puts the session's addresses in place of the doc's in a
// command.
func (s *docSession) substitute(script string) string {
	return strings.NewReplacer(docPort, s.port, docMetrics, s.metrics).Replace(script)
}

// runBlock runs b's commands in order; with compare, each one's output
// must be what the doc shows.
func (s *docSession) runBlock(b *doctest.Block, compare bool) {
	s.t.Helper()
	for _, c := range b.Cmds {
		if c.Background {
			s.start(c, b.Ready)
			continue
		}
		got, code := s.run(c)
		if !compare {
			continue
		}
		if d := doctest.Diff(doctest.Normalise(c.Want), doctest.Normalise(got)); d != "" {
			s.t.Errorf("docs/cli.md:%d: $ %s\nexit status %d; what it printed differs from the doc (- the doc shows, + it printed; after normalisation):\n%s",
				c.Line, c.Script, code, d)
		}
	}
}

// command is bash running c in the session, in a process group of its own.
func (s *docSession) command(ctx context.Context, c doctest.Cmd, mark string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "bash", "-c", s.substitute(c.Script))
	cmd.Dir = s.dir
	cmd.Env = docEnv(s.root, filepath.Dir(s.bins.tether), mark)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// run runs a foreground command and returns what it printed (stdout and
// stderr through one pipe, in the order written) and its exit status.
func (s *docSession) run(c doctest.Cmd) ([]string, int) {
	t := s.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), docCmdTimeout)
	defer cancel()
	mark := newMark(t)
	cmd := s.command(ctx, c, mark)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	s.reap(c, mark)
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("docs/cli.md:%d: $ %s\ndid not finish within %v; it printed:\n%s", c.Line, c.Script, docCmdTimeout, out.String())
	case errors.As(err, &ee):
		return s.lines(out.String()), ee.ExitCode()
	case err != nil:
		t.Fatalf("docs/cli.md:%d: $ %s\n%v; it printed:\n%s", c.Line, c.Script, err, out.String())
	}
	return s.lines(out.String()), 0
}

// lines is a run's output as the doc would show it: the session's
// addresses written as the doc's, its TMPDIR as /tmp.
func (s *docSession) lines(out string) []string {
	out = strings.NewReplacer(s.port, docPort, s.metrics, docMetrics, s.tmp, "/tmp").Replace(out)
	return doctest.TrimLines(strings.Split(out, "\n"))
}

// start starts a background command. One that names the doc's port is
// waited for until the port accepts connections, as a user would wait
// before typing the next command; then, with a ready command, until that
// succeeds.
func (s *docSession) start(c doctest.Cmd, ready string) {
	t := s.t
	t.Helper()
	p := &docProc{cmd: c, mark: newMark(t), done: make(chan error, 1)}
	p.c = s.command(context.Background(), c, p.mark)
	p.c.Stdout, p.c.Stderr = &p.out, &p.out
	if err := p.c.Start(); err != nil {
		t.Fatalf("docs/cli.md:%d: $ %s &\n%v", c.Line, c.Script, err)
	}
	go func() { p.done <- p.c.Wait() }()
	s.bg = append(s.bg, p)
	if strings.Contains(c.Script, docPort) {
		s.waitUntil(p, "accepting connections on "+s.port, func() (bool, string) {
			conn, err := net.DialTimeout("tcp", s.port, time.Second)
			if err != nil {
				return false, err.Error()
			}
			_ = conn.Close()
			return true, ""
		})
	}
	if ready != "" {
		s.waitUntil(p, "`"+ready+"` succeeding", func() (bool, string) {
			got, code := s.run(doctest.Cmd{Line: c.Line, Script: ready})
			return code == 0, strings.Join(got, "\n")
		})
	}
}

// waitUntil polls cond until it holds, failing the test if p ends first
// or docCmdTimeout passes; cond also says what it last saw.
func (s *docSession) waitUntil(p *docProc, what string, cond func() (bool, string)) {
	t := s.t
	t.Helper()
	deadline := time.Now().Add(docCmdTimeout)
	for {
		select {
		case err := <-p.done:
			p.over = true
			t.Fatalf("docs/cli.md:%d: $ %s &\nended (%v) before %s; it printed:\n%s", p.cmd.Line, p.cmd.Script, err, what, p.out.String())
		default:
		}
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("docs/cli.md:%d: $ %s &\nnot %s within %v; last: %s", p.cmd.Line, p.cmd.Script, what, docCmdTimeout, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop stops the background processes (SIGTERM to their process group,
// SIGKILL if that is not enough) and fails the test if any process of the
// session is left or anything is left in its TMPDIR.
func (s *docSession) stop() {
	t := s.t
	for _, p := range s.bg {
		select {
		case <-p.done: // ended by itself (or by the example): nothing to signal
			p.over = true
		default:
		}
		if !p.over {
			_ = syscall.Kill(-p.c.Process.Pid, syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(docCmdTimeout):
				_ = syscall.Kill(-p.c.Process.Pid, syscall.SIGKILL)
				<-p.done // bounded: the group is killed, and WaitDelay bounds the pipe
				t.Errorf("docs/cli.md:%d: $ %s &\ndid not stop within %v of SIGTERM", p.cmd.Line, p.cmd.Script, docCmdTimeout)
			}
			p.over = true
		}
		s.reap(p.cmd, p.mark)
		if t.Failed() {
			t.Logf("docs/cli.md:%d: $ %s &\nprinted:\n%s", p.cmd.Line, p.cmd.Script, p.out.String())
		}
	}
	left, err := os.ReadDir(s.tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range left {
		t.Errorf("left behind in TMPDIR: %s", e.Name())
	}
}

// reap fails the test if a process c started (tagged with mark) outlived
// it, waiting a little for ones that are exiting, and kills those left.
func (s *docSession) reap(c doctest.Cmd, mark string) {
	t := s.t
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	pids := marked(t, mark)
	for len(pids) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		pids = marked(t, mark)
	}
	if len(pids) == 0 {
		return
	}
	t.Errorf("docs/cli.md:%d: $ %s\nleft processes behind: %v (killed now)", c.Line, c.Script, pids)
	for _, pid := range pids {
		if n, err := strconv.Atoi(pid); err == nil {
			_ = syscall.Kill(n, syscall.SIGKILL) // tagged with this command's mark: started by it
		}
	}
}
