//go:build unix

package supervise_test

import (
	"context"
	"testing"
	"time"

	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/supervise"
)

// TestHungInstanceIsRestarted: a plugin that stops answering (SIGSTOP) is
// reported unhealthy after the health timeout, killed and started again.
func TestHungInstanceIsRestarted(t *testing.T) {
	t.Parallel()
	s, ev := newSupervisor(t)
	spec := echoSpec(t, "hung")
	spec.Health = supervise.Health{Interval: 100 * time.Millisecond, Timeout: 400 * time.Millisecond}
	apply(t, s, spec)
	pid := ev.next("hung", 10*time.Second, supervise.Ready).Pid
	start := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_, _ = echoOf(t, s, "hung").Unary(ctx, &echov1.Message{Text: "freeze"})
	ev.next("hung", 5*time.Second, supervise.Unhealthy)
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Errorf("unhealthy after %v, before the 400ms timeout", took)
	}
	again := ev.next("hung", 10*time.Second, supervise.Ready)
	if again.Pid == pid {
		t.Fatal("not restarted")
	}
	if alive(pid) {
		t.Errorf("the hung process %d is still alive", pid)
	}
}

// TestKilledInstanceIsRestarted: an instance killed with SIGKILL is
// reported (exited, killed), started again after its backoff, and the Conn
// taken before the kill reaches the new process.
func TestKilledInstanceIsRestarted(t *testing.T) {
	t.Parallel()
	s, ev := newSupervisor(t)
	apply(t, s, echoSpec(t, "echo"))
	pid := ev.next("echo", 10*time.Second, supervise.Ready).Pid
	echo := echoOf(t, s, "echo")
	call(t, echo, "before")
	kill9(t, pid)
	exited := ev.next("echo", 5*time.Second, supervise.Exited)
	if exited.Exit == nil || exited.Exit.Signal != "SIGKILL" || exited.Exit.String() != "killed by SIGKILL" {
		t.Errorf("exit event %+v (%v), want killed by SIGKILL", exited.Exit, exited.Exit)
	} else if code, ok := exited.Exit.StatusCode(); !ok || code != 128+9 {
		t.Errorf("exit status code %d, %v; want 137 (128 + SIGKILL), true", code, ok)
	}
	if r := ev.next("echo", 5*time.Second, supervise.Restarting); r.Delay > 100*time.Millisecond {
		t.Errorf("first restart delay %v, want about 50ms", r.Delay)
	}
	again := ev.next("echo", 5*time.Second, supervise.Ready)
	if again.Pid == pid || again.Pid == 0 {
		t.Fatalf("restarted with pid %d, was %d", again.Pid, pid)
	}
	call(t, echo, "after")
	st := s.Status()
	if len(st) != 1 || st[0].Restarts != 1 || st[0].State != supervise.StateRunning || st[0].Pid != again.Pid {
		t.Errorf("status %+v, want running, pid %d, 1 restart", st, again.Pid)
	}
}
