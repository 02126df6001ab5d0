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
