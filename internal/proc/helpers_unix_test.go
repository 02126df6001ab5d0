//go:build unix

package proc

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// helperSrc is a tiny plugin stand-in: "argv0" prints its os.Args[0].
const helperSrc = `package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "argv0" {
		fmt.Println(os.Args[0])
	}
}
`

var (
	helperOnce sync.Once
	helperPath string
	helperErr  error
)

// helperBin builds the Go helper program once per test run.
func helperBin(t *testing.T) string {
	t.Helper()
	helperOnce.Do(func() {
		src := filepath.Join(helperDir, "main.go")
		if helperErr = os.WriteFile(src, []byte(helperSrc), 0o644); helperErr != nil {
			return
		}
		helperPath = filepath.Join(helperDir, "helper")
		out, err := exec.Command("go", "build", "-o", helperPath, src).CombinedOutput()
		if err != nil {
			helperErr = fmt.Errorf("go build: %v: %s", err, out)
		}
	})
	if helperErr != nil {
		t.Fatal(helperErr)
	}
	return helperPath
}

// script writes an executable /bin/sh script named name into dir.
func script(t *testing.T, dir, name, body string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func sum(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(b)
	return h[:]
}

// start starts s and, at the end of the test, terminates the process and
// checks that it was reaped and that nothing of its process group is left.
func start(t *testing.T, s Spec) *Process {
	t.Helper()
	p, err := Start(s)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = p.Terminate(ctx, time.Second)
		if !p.HasExited() {
			t.Errorf("pid %d not reaped after Terminate", p.Pid())
		}
		if left := waitGroupGone(p.Pid(), 3*time.Second); len(left) > 0 {
			t.Errorf("processes left in group %d: %v", p.Pid(), left)
			for _, pid := range left {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	return p
}

// killAtEnd kills pid when the test ends, in case the code under test did not.
func killAtEnd(t *testing.T, pid int) {
	t.Cleanup(func() {
		if alive(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
}

// waitGroupGone waits up to d for group pgid to have no live member and
// returns those left.
func waitGroupGone(pgid int, d time.Duration) []int {
	deadline := time.Now().Add(d)
	for {
		left := groupMembers(pgid)
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitDead waits up to d for pid to die.
func waitDead(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for alive(pid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// handshake reads the handshake line with a timeout.
func handshake(t *testing.T, p *Process) (string, error) {
	t.Helper()
	type res struct {
		line string
		err  error
	}
	ch := make(chan res, 1)
	go func() {
		l, err := p.ReadHandshake()
		ch <- res{l, err}
	}()
	select {
	case r := <-ch:
		return r.line, r.err
	case <-time.After(10 * time.Second):
		t.Fatal("no handshake line within 10s")
		return "", nil
	}
}

func mustHandshake(t *testing.T, p *Process) string {
	t.Helper()
	l, err := handshake(t, p)
	if err != nil {
		t.Fatalf("ReadHandshake: %q, %v", l, err)
	}
	return l
}

func waitExited(t *testing.T, p *Process, d time.Duration) {
	t.Helper()
	select {
	case <-p.Exited():
	case <-time.After(d):
		t.Fatalf("process not reported exited within %v", d)
	}
}

// lines collects stderr lines.
type lines struct {
	mu sync.Mutex
	l  []string
}

func (l *lines) add(s string) {
	l.mu.Lock()
	l.l = append(l.l, s)
	l.mu.Unlock()
}

func (l *lines) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.l...)
}
