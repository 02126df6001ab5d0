package supervise

import (
	"context"
	"errors"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/proc"
)

// State is where an instance is in its life.
type State string

// The states of an instance.
const (
	StateStarting State = "starting"
	StateRunning  State = "running"
	StateBackoff  State = "backoff" // waiting to be started again
	StateFailed   State = "failed"  // restart budget spent; waits for Restart
	StateStopped  State = "stopped" // ended under its policy, or removed
	// StateUnreachable is a watched network instance that fails its
	// health checks.
	StateUnreachable State = "unreachable"
)

// instance is one supervised name and the goroutine that keeps it alive.
type instance struct {
	sup   *Supervisor
	spec  Spec
	local bool // a program tether launches, not a network target

	mu       sync.Mutex
	client   *tether.Client // the current incarnation; nil while down
	up       chan struct{}  // closed while client is set
	state    State
	pid      int
	since    time.Time // when the current state began (uptime while running)
	restarts int
	lastExit *Exit
	lastErr  error
	adopted  bool
	// adoptProc holds the process of an adopted incarnation (not this
	// host's child), to stop it; nil otherwise.
	adoptProc *proc.Adopted
	// reattach is how another host reaches the current process (local
	// instances), kept in the state file; nil while none runs.
	reattach *tether.ReattachConfig
	// launched is the process being started, until it is ready or its
	// start failed (outliving instances); nil otherwise.
	launched *launched
	logs     *instanceLogs // the log files; nil without a data directory

	kick   chan struct{} // Restart requests
	stop   chan struct{} // closed to stop; detach says how
	detach bool
	done   chan struct{}
}

// why an incarnation ended.
type ending int

const (
	endExited ending = iota
	endUnhealthy
	endKicked
	endStopped
)

func (s *Supervisor) newInstance(spec Spec) *instance {
	t, _ := tether.ParseTarget(spec.Target)
	in := &instance{sup: s, spec: spec, local: t.Scheme == "exec", up: make(chan struct{}),
		state: StateStarting, since: time.Now(), kick: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{})}
	if s.cfg.Dir != "" {
		logs, err := openLogs(s, spec.Name)
		if err != nil {
			s.log.Warn("the instance's output goes to the log only", "instance", spec.Name, "err", err)
		}
		in.logs = logs
	}
	return in
}

// run keeps the instance alive until stopped. adopted, if not nil, is the
// client of a process an earlier host started, taken over as the first
// incarnation.
func (in *instance) run(adopted *tether.Client) {
	defer close(in.done)
	defer in.logs.close()
	r := newRestarts(in.spec.Backoff, in.spec.Budget)
	for {
		c, why := adopted, ending(endExited)
		adopted = nil
		if c == nil {
			c = in.start()
		}
		var exit *Exit
		if c != nil {
			began := time.Now()
			why = in.watch(c)
			exit = in.end(c, why)
			r.ranFor(time.Since(began))
		}
		switch why {
		case endStopped:
			in.setState(StateStopped, nil)
			in.emit(Event{Kind: Stopped})
			return
		case endKicked:
			r.reset()
			continue
		}
		if !in.wantsRestart(exit, why) {
			in.setState(StateStopped, nil)
			in.emit(Event{Kind: Stopped})
			if !in.waitKick(r) {
				return
			}
			continue
		}
		delay, ok := r.take(time.Now())
		if !ok {
			in.setState(StateFailed, in.lastErrValue())
			in.emit(Event{Kind: Failed, Restarts: in.restartCount(), Err: in.lastErrValue()})
			if !in.waitKick(r) {
				return
			}
			continue
		}
		in.mu.Lock()
		in.restarts++
		in.mu.Unlock()
		in.setState(StateBackoff, in.lastErrValue())
		in.emit(Event{Kind: Restarting, Delay: delay, Restarts: in.restartCount()})
		if !in.sleep(delay, r) {
			return
		}
	}
}

// wantsRestart applies the policy to how the last incarnation ended.
func (in *instance) wantsRestart(exit *Exit, why ending) bool {
	switch in.spec.Restart {
	case Never:
		return false
	case OnFailure:
		return why == endUnhealthy || exit == nil || exit.failed()
	}
	return true
}

// waitKick waits, stopped or failed, for Restart (true) or the end (false).
func (in *instance) waitKick(r *restarts) bool {
	select {
	case <-in.kick:
		r.reset()
		return true
	case <-in.stop:
		in.setState(StateStopped, nil)
		return false
	}
}

// sleep waits out a restart delay; Restart cuts it short.
func (in *instance) sleep(d time.Duration, r *restarts) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-in.kick:
		r.reset()
		return true
	case <-in.stop:
		in.setState(StateStopped, nil)
		in.emit(Event{Kind: Stopped})
		return false
	}
}

// start launches one incarnation, or returns nil after reporting why not.
func (in *instance) start() *tether.Client {
	in.setState(StateStarting, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-in.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	track, tracked := in.trackLaunch()
	c, err := tether.Open(ctx, in.spec.Target, append(in.sup.optionsFor(in.spec, in.logs), track...)...)
	if err != nil {
		tracked()
		exit := exitOf(err)
		in.mu.Lock()
		in.lastErr, in.lastExit = err, exit
		in.mu.Unlock()
		in.emit(Event{Kind: Exited, Exit: exit, Err: err})
		return nil
	}
	in.becameUp(c, false)
	tracked()
	in.emit(Event{Kind: Started, Pid: c.Pid()})
	in.emit(Event{Kind: Ready, Pid: c.Pid()})
	return c
}

// becameUp makes c the current incarnation.
func (in *instance) becameUp(c *tether.Client, adopted bool) {
	var rc *tether.ReattachConfig
	if in.local {
		if cfg, err := c.ReattachConfig(); err == nil {
			rc = &cfg
		}
	}
	in.mu.Lock()
	in.reattach = rc
	in.client, in.pid, in.adopted, in.lastErr = c, c.Pid(), adopted, nil
	in.state, in.since = StateRunning, time.Now()
	close(in.up)
	in.mu.Unlock()
	in.sup.changed()
}

// refreshReattach updates the running incarnation's reattach config (how
// far its spooled output has been read moves on).
func (in *instance) refreshReattach() {
	in.mu.Lock()
	c := in.client
	in.mu.Unlock()
	if c == nil || !in.local {
		return
	}
	if cfg, err := c.ReattachConfig(); err == nil {
		in.mu.Lock()
		if in.client == c {
			in.reattach = &cfg
		}
		in.mu.Unlock()
	}
}

// wentDown takes the current incarnation out of use; gone says its
// process will not run on (false: it is left running for a later host).
func (in *instance) wentDown(gone bool) {
	in.mu.Lock()
	if in.client != nil {
		in.client, in.up = nil, make(chan struct{})
	}
	if gone {
		in.reattach = nil
	}
	in.mu.Unlock()
	in.sup.changed()
}

// watch waits for the incarnation to end, fail its health checks, be
// restarted on request, or be stopped.
func (in *instance) watch(c *tether.Client) ending {
	h := in.spec.Health
	tick := time.NewTicker(h.Interval)
	defer tick.Stop()
	lastOK := time.Now()
	for {
		select {
		case <-c.Exited():
			return endExited
		case <-in.kick:
			return endKicked
		case <-in.stop:
			return endStopped
		case <-tick.C:
			ctx, cancel := context.WithTimeout(context.Background(), h.Interval)
			err := c.Ping(ctx)
			cancel()
			if err == nil {
				lastOK = time.Now()
				in.healthy(true, nil)
				continue
			}
			if time.Since(lastOK) < h.Timeout {
				continue
			}
			in.mu.Lock()
			in.lastErr = err
			in.mu.Unlock()
			if !in.local {
				in.healthy(false, err) // a network instance is only reported
				continue
			}
			in.emit(Event{Kind: Unhealthy, Pid: c.Pid(), Err: err})
			return endUnhealthy
		}
	}
}

// healthy records a watched network instance's health changes.
func (in *instance) healthy(ok bool, err error) {
	in.mu.Lock()
	was := in.state
	in.mu.Unlock()
	switch {
	case ok && was == StateUnreachable:
		in.setState(StateRunning, nil)
		in.emit(Event{Kind: Ready})
	case !ok && was != StateUnreachable:
		in.setState(StateUnreachable, err)
		in.emit(Event{Kind: Unhealthy, Err: err})
	}
}

// end finishes an incarnation: it is killed unless it already exited (or
// left running when the supervisor detaches), and its exit is recorded.
func (in *instance) end(c *tether.Client, why ending) *Exit {
	in.mu.Lock()
	a := in.adoptProc
	in.adoptProc = nil
	in.mu.Unlock()
	if why == endStopped && in.detaching() {
		// Left running, and recorded so (reattach is kept, with how far its
		// output was read) for the next host.
		in.refreshReattach()
		if err := c.Detach(); err != nil {
			in.sup.log.Warn("could not leave the plugin running", "instance", in.spec.Name, "err", err)
		}
		if a != nil {
			a.Release()
		}
		in.wentDown(false)
		return nil
	}
	in.wentDown(true)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Kill(ctx); err != nil && why != endExited {
		in.sup.log.Warn("stopping the plugin", "instance", in.spec.Name, "err", err)
	}
	if !in.local {
		return nil
	}
	exit := exitOf(c.ExitError())
	if a != nil {
		// Adopted: Kill only disconnected, and the exit status is the
		// parent's to know.
		if err := a.Terminate(ctx, 2*time.Second); err != nil && why != endExited {
			in.sup.log.Warn("stopping the adopted plugin", "instance", in.spec.Name, "err", err)
		}
		a.Release()
		exit = &Exit{Code: -1}
	}
	in.mu.Lock()
	in.lastExit = exit
	if why == endExited {
		in.lastErr = c.ExitError()
	}
	in.mu.Unlock()
	if why == endExited || why == endUnhealthy {
		in.emit(Event{Kind: Exited, Pid: c.Pid(), Exit: exit, Err: c.ExitError()})
	}
	return exit
}

func (in *instance) detaching() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.detach && in.spec.OutliveHost
}

// exitOf reads how a process ended from its error; nil if it says not.
func exitOf(err error) *Exit {
	var pe *tether.PluginError
	if !errors.As(err, &pe) || !pe.Exited {
		return nil
	}
	e := &Exit{Code: pe.ExitCode, Known: true, Stderr: pe.Output}
	var ee *exec.ExitError
	if errors.As(pe.Err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			e.Signal, e.SignalNumber = signalName(ws.Signal()), int(ws.Signal())
		}
	}
	return e
}

func (in *instance) setState(s State, err error) {
	in.mu.Lock()
	if in.state != s {
		in.state, in.since = s, time.Now()
	}
	if err != nil {
		in.lastErr = err
	}
	in.mu.Unlock()
	in.sup.changed()
}

func (in *instance) lastErrValue() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.lastErr
}

func (in *instance) restartCount() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.restarts
}

// emit stamps and reports an event.
func (in *instance) emit(e Event) {
	e.Time, e.Instance = time.Now(), in.spec.Name
	if e.Restarts == 0 {
		e.Restarts = in.restartCount()
	}
	in.sup.report(e)
}

// requestRestart asks for a restart now; a failed instance is reset.
func (in *instance) requestRestart() {
	select {
	case in.kick <- struct{}{}:
	default:
	}
}

// halt stops the instance and waits for its goroutine, leaving an
// OutliveHost instance running when detach is set.
func (in *instance) halt(ctx context.Context, detach bool) error {
	in.mu.Lock()
	in.detach = detach
	in.mu.Unlock()
	select {
	case <-in.stop:
	default:
		close(in.stop)
	}
	select {
	case <-in.done:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
