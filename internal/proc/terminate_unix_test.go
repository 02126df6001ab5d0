//go:build unix

package proc

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"
)

const ignoresTerm = "trap '' TERM\necho ready\nwhile :; do sleep 0.05; done\n"

// Terminate stops waiting for SIGTERM to work when ctx ends, kills, reaps,
// and says the context ended.
func TestTerminateHonoursContext(t *testing.T) {
	t.Parallel()
	p := start(t, Spec{Path: script(t, t.TempDir(), "p", ignoresTerm)})
	mustHandshake(t, p)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	err := p.Terminate(ctx, 20*time.Second)
	if d := time.Since(t0); d > 5*time.Second {
		t.Fatalf("Terminate took %v with a 200ms context", d)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Terminate = %v, want one wrapping context.DeadlineExceeded", err)
	}
	if !p.HasExited() {
		t.Fatal("not reaped after Terminate returned")
	}
	if p.ExitCode() != -1 || p.WaitErr() == nil || !strings.Contains(p.WaitErr().Error(), "killed") {
		t.Errorf("ExitCode %d, WaitErr %v: want -1, signal: killed", p.ExitCode(), p.WaitErr())
	}
}

// With a live context, Terminate waits step for SIGTERM, then kills.
func TestTerminateKillsAfterStep(t *testing.T) {
	t.Parallel()
	p := start(t, Spec{Path: script(t, t.TempDir(), "p", ignoresTerm)})
	mustHandshake(t, p)
	t0 := time.Now()
	if err := p.Terminate(context.Background(), 300*time.Millisecond); err != nil {
		t.Errorf("Terminate = %v, want nil", err)
	}
	if d := time.Since(t0); d < 300*time.Millisecond || d > 5*time.Second {
		t.Errorf("Terminate took %v, want about 300ms", d)
	}
	if !p.HasExited() || !strings.Contains(p.WaitErr().Error(), "killed") {
		t.Errorf("exited %v, WaitErr %v", p.HasExited(), p.WaitErr())
	}
}

// A process that honours SIGTERM is gone well before step.
func TestTerminateGraceful(t *testing.T) {
	t.Parallel()
	p := start(t, Spec{Path: script(t, t.TempDir(), "p", "echo ready\nexec sleep 1000\n"), DieWithHost: true})
	mustHandshake(t, p)
	t0 := time.Now()
	if err := p.Terminate(context.Background(), 20*time.Second); err != nil {
		t.Errorf("Terminate = %v, want nil", err)
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Errorf("Terminate took %v", d)
	}
	if !p.HasExited() || !strings.Contains(p.WaitErr().Error(), "terminated") {
		t.Errorf("exited %v, WaitErr %v", p.HasExited(), p.WaitErr())
	}
	// Once reaped, signalling is a no-op.
	p.Signal(syscall.SIGKILL)
	if err := p.Terminate(context.Background(), time.Second); err != nil {
		t.Errorf("second Terminate = %v", err)
	}
}
