package execruntime

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// Runtime is one launched plugin: its current process, and with
// Config.Restart the loop that starts it again whenever it exits.
type Runtime struct {
	env Env
	cfg Config

	mu      sync.Mutex
	cur     *Instance // nil while restarting
	ep      Endpoint
	closing chan struct{} // closed by Close or Detach
	once    sync.Once
	done    chan struct{} // closed once no instance runs or will
}

// Start launches the plugin, reports its endpoint, and watches it.
func Start(ctx context.Context, env Env, cfg Config) (*Runtime, error) {
	r := &Runtime{env: env, cfg: cfg, closing: make(chan struct{}), done: make(chan struct{})}
	inst, ep, err := Launch(ctx, env, cfg)
	if err != nil {
		return nil, err
	}
	r.cur, r.ep = inst, ep
	env.Report([]Endpoint{ep})
	go r.watch(inst)
	return r, nil
}

// watch waits for an instance's exit, removes its endpoint at once (so no
// call goes to its dead socket), and restarts it when asked to.
func (r *Runtime) watch(inst *Instance) {
	<-inst.Exited()
	r.env.Report(nil)
	inst.closeBroker()
	r.mu.Lock()
	r.cur = nil
	r.mu.Unlock()
	if !r.cfg.Restart || r.isClosing() {
		r.end(inst)
		return
	}
	log := r.env.Logger.With("plugin", r.env.Name)
	backoff := 50 * time.Millisecond
	for {
		delay := backoff/2 + rand.N(backoff/2+1) // jitter
		log.Warn("plugin exited; restarting", "error", inst.ExitError(), "in_seconds", delay.Round(time.Millisecond).Seconds())
		select {
		case <-r.closing:
			r.end(inst)
			return
		case <-time.After(delay):
		}
		next, ep, err := r.launch()
		if err == nil {
			r.mu.Lock()
			r.cur, r.ep = next, ep
			r.mu.Unlock()
			if r.isClosing() {
				_ = next.p.Terminate(context.Background(), r.cfg.KillTimeout)
				r.end(inst)
				return
			}
			r.env.Report([]Endpoint{ep})
			go r.watch(next)
			return
		}
		log.Warn("plugin restart failed", "error", err)
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (r *Runtime) end(last *Instance) {
	r.env.Ended(last.ExitError())
	close(r.done)
}

// launch starts a replacement, bounded by the start timeout and by Close.
func (r *Runtime) launch() (*Instance, Endpoint, error) {
	ctx, cancel := context.WithTimeoutCause(context.Background(), r.env.StartTimeout, r.env.StartDeadline)
	defer cancel()
	go func() {
		select {
		case <-r.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	return Launch(ctx, r.env, r.cfg)
}

func (r *Runtime) isClosing() bool {
	select {
	case <-r.closing:
		return true
	default:
		return false
	}
}

// Close asks the running process to shut down through stop, waits up to
// the kill timeout, then SIGTERM, wait, SIGKILL; it returns once the
// process is reaped.
func (r *Runtime) Close(ctx context.Context, stop func(context.Context, Endpoint) error) error {
	r.once.Do(func() { close(r.closing) })
	r.mu.Lock()
	inst, ep := r.cur, r.ep
	r.mu.Unlock()
	var err error
	if inst != nil && !inst.p.HasExited() {
		sctx, cancel := context.WithTimeout(ctx, r.cfg.KillTimeout)
		if stop(sctx, ep) == nil {
			select {
			case <-inst.Exited():
			case <-sctx.Done():
			}
		}
		cancel()
		err = inst.p.Terminate(ctx, r.cfg.KillTimeout)
	}
	select {
	case <-r.done:
	case <-time.After(processExitGrace + r.cfg.KillTimeout):
		err = errors.Join(err, fmt.Errorf("the exec runtime did not stop"))
	}
	return err
}

// Detach leaves a plugin launched with Config.Outlive running: no restart
// after this, and its spool files are left for a later host to read on.
func (r *Runtime) Detach() error {
	if !r.cfg.Outlive {
		return errors.New("only a plugin launched WithOutliveHost can be left running")
	}
	r.once.Do(func() { close(r.closing) })
	r.mu.Lock()
	inst := r.cur
	r.mu.Unlock()
	if inst != nil {
		inst.p.ReleaseSpool()
	}
	return nil
}

// Current is the running instance, nil while none runs.
func (r *Runtime) Current() *Instance {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cur == nil || r.cur.ExitError() != nil {
		return nil
	}
	return r.cur
}
