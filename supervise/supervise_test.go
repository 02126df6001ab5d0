package supervise_test

import (
	"context"
	"errors"
	"os/exec"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/plugintest"
	"github.com/tetherplug/tether/network"
	"github.com/tetherplug/tether/supervise"
	"github.com/tetherplug/tether/tethertest"
)

// TestExitingAtOnceFailsAfterBudget: a plugin that exits at once is
// restarted with growing delays, then failed once its budget is spent, and
// stays failed until Restart.
func TestExitingAtOnceFailsAfterBudget(t *testing.T) {
	t.Parallel()
	s, ev := newSupervisor(t)
	spec := echoSpec(t, "bad", "ECHO_MODE=exit3")
	spec.Budget = supervise.Budget{Restarts: 3, Within: time.Minute}
	apply(t, s, spec)
	var last time.Duration
	for i := range 3 {
		ex := ev.next("bad", 10*time.Second, supervise.Exited)
		if ex.Exit == nil || ex.Exit.Code != 3 {
			t.Fatalf("exit %d: %+v (%v), want status 3", i, ex.Exit, ex.Err)
		}
		d := ev.next("bad", 5*time.Second, supervise.Restarting).Delay
		if d <= last {
			t.Errorf("restart %d after %v, not longer than the one before (%v)", i+1, d, last)
		}
		last = d
	}
	failed := ev.next("bad", 10*time.Second, supervise.Failed)
	if failed.Err == nil || !errors.Is(failed.Err, tether.ErrPluginExited) && !errors.Is(failed.Err, tether.ErrNotPlugin) {
		t.Errorf("failed event says %v, want the last exit", failed.Err)
	}
	ev.none("bad", time.Second, supervise.Exited, supervise.Restarting)
	if st := s.Status(); st[0].State != supervise.StateFailed {
		t.Fatalf("state %s, want failed", st[0].State)
	}
	if err := s.Restart("bad"); err != nil {
		t.Fatal(err)
	}
	ev.next("bad", 10*time.Second, supervise.Exited) // tried again at once
}

// TestPolicies: a clean exit (status 0) is restarted under "always" only;
// an exit with status 1 under "always" and "on-failure", never under
// "never".
func TestPolicies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		policy  supervise.Policy
		code    string
		restart bool
	}{
		{supervise.Always, "0", true},
		{supervise.OnFailure, "0", false},
		{supervise.OnFailure, "1", true},
		{supervise.Never, "1", false},
	} {
		t.Run(string(tc.policy)+"-"+tc.code, func(t *testing.T) {
			t.Parallel()
			s, ev := newSupervisor(t)
			spec := echoSpec(t, "p")
			spec.Restart = tc.policy
			apply(t, s, spec)
			ev.next("p", 10*time.Second, supervise.Ready)
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			_, _ = echoOf(t, s, "p").Unary(ctx, &echov1.Message{Text: "exit:" + tc.code})
			got := ev.next("p", 5*time.Second, supervise.Restarting, supervise.Stopped)
			if (got.Kind == supervise.Restarting) != tc.restart {
				t.Errorf("after exit %s: %s, want restart %v", tc.code, got.Kind, tc.restart)
			}
		})
	}
}

// TestApplyRestartsOnlyChanged: applying a new set restarts the changed
// instance, starts the added one, stops the removed one, and leaves the
// others' processes alone.
func TestApplyRestartsOnlyChanged(t *testing.T) {
	t.Parallel()
	s, ev := newSupervisor(t)
	apply(t, s, echoSpec(t, "a"), echoSpec(t, "b"), echoSpec(t, "c"))
	pids := map[string]int{}
	for _, n := range []string{"a", "b", "c"} {
		pids[n] = ev.next(n, 10*time.Second, supervise.Ready).Pid
	}
	apply(t, s, echoSpec(t, "a"), echoSpec(t, "b", "X=2"), echoSpec(t, "d"))
	if p := ev.next("b", 10*time.Second, supervise.Ready).Pid; p == pids["b"] {
		t.Error("the changed instance kept its process")
	}
	ev.next("d", 10*time.Second, supervise.Ready)
	eventually(t, 5*time.Second, "c stopped", func() bool { return !alive(pids["c"]) })
	st := map[string]supervise.Status{}
	for _, x := range s.Status() {
		st[x.Name] = x
	}
	if st["a"].Pid != pids["a"] {
		t.Errorf("unchanged a: pid %d, was %d", st["a"].Pid, pids["a"])
	}
	if _, ok := st["c"]; ok || len(st) != 3 {
		t.Errorf("status %v, want a, b, d", st)
	}
}

// TestProposeCoalesces: five sets proposed within the quiet period are
// applied once, as the last one.
func TestProposeCoalesces(t *testing.T) {
	t.Parallel()
	s, ev := newSupervisor(t)
	apply(t, s, echoSpec(t, "a"))
	first := ev.next("a", 10*time.Second, supervise.Ready).Pid
	before := s.Applies()
	for i := range 5 {
		s.Propose([]supervise.Spec{echoSpec(t, "a", "EDIT="+string(rune('0'+i)))})
		time.Sleep(20 * time.Millisecond)
	}
	second := ev.next("a", 10*time.Second, supervise.Ready).Pid
	ev.none("a", time.Second, supervise.Started)
	if n := s.Applies() - before; n != 1 || second == first {
		t.Errorf("%d applies (pid %d -> %d), want 1 and a new process", n, first, second)
	}
}

// TestConnWhileStopped: while no incarnation runs, calls through Conn fail
// at once with ErrUnavailable.
func TestConnWhileStopped(t *testing.T) {
	t.Parallel()
	s, ev := newSupervisor(t)
	spec := echoSpec(t, "n")
	spec.Restart = supervise.Never
	apply(t, s, spec)
	ev.next("n", 10*time.Second, supervise.Ready)
	echo := echoOf(t, s, "n")
	_, _ = echo.Unary(t.Context(), &echov1.Message{Text: "exit:0"})
	ev.next("n", 5*time.Second, supervise.Stopped)
	start := time.Now()
	_, err := echo.Unary(t.Context(), &echov1.Message{Text: "x"})
	if !errors.Is(err, tether.ErrUnavailable) || time.Since(start) > time.Second {
		t.Fatalf("call while stopped: %v after %v, want ErrUnavailable at once", err, time.Since(start))
	}
}

// TestNetworkInstanceIsWatched: a network target is not restarted but
// watched: reported unreachable while its health checks fail, running
// again once it answers.
func TestNetworkInstanceIsWatched(t *testing.T) {
	t.Parallel()
	path := tethertest.Build(t, plugintest.EchoPlugin)
	serve := func(addr string) (*exec.Cmd, string) {
		return plugintest.ServeNetwork(t, path, tether.EnvListen+"="+addr, tether.EnvInsecure+"=1")
	}
	plugin, addr := serve("127.0.0.1:0")
	s, ev := newSupervisor(t)
	apply(t, s, supervise.Spec{Name: "remote", Target: "tcp://" + addr,
		Interfaces: []tether.Want{{Interface: "echo", Versions: []int{1}}},
		Health:     supervise.Health{Interval: 100 * time.Millisecond, Timeout: 300 * time.Millisecond},
		Options: []tether.Option{network.WithInsecure(), tether.WithStartTimeout(10 * time.Second),
			tether.WithDialOptions(grpc.WithConnectParams(grpc.ConnectParams{
				Backoff: backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.2, MaxDelay: 200 * time.Millisecond}}))}})
	ev.next("remote", 10*time.Second, supervise.Ready)
	_ = plugin.Process.Kill()
	_ = plugin.Wait()
	ev.next("remote", 5*time.Second, supervise.Unhealthy)
	if st := s.Status(); st[0].State != supervise.StateUnreachable || st[0].Restarts != 0 {
		t.Errorf("status %+v, want unreachable and never restarted", st[0])
	}
	serve(addr) // the same address again
	ev.next("remote", 10*time.Second, supervise.Ready)
	call(t, echoOf(t, s, "remote"), "back")
}
