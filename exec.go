package tether

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// execScheme is the scheme of local programs: a bare path, or exec:///path.
const execScheme = "exec"

func init() { RegisterRuntime(execBuilder{}) }

// execBuilder is the exec runtime: it launches the plugin as a local
// process, reads its go-plugin handshake line, and reports the Unix socket
// (or loopback address) it printed. With WithRestart it launches it again
// whenever it exits.
type execBuilder struct{}

func (execBuilder) Scheme() string { return execScheme }

func (execBuilder) Build(ctx context.Context, t Target, env RuntimeEnv) (Runtime, error) {
	r := &execRuntime{path: t.Path, env: env, cfg: execConfigFrom(env.Settings),
		closing: make(chan struct{}), done: make(chan struct{})}
	inst, ep, err := launchInstance(ctx, env, r.cfg, r.path)
	if err != nil {
		return nil, err
	}
	r.cur, r.ep = inst, ep
	env.Endpoints.UpdateEndpoints([]Endpoint{ep})
	go r.watch(inst)
	return r, nil
}

type execRuntime struct {
	path string
	env  RuntimeEnv
	cfg  execConfig

	mu      sync.Mutex
	cur     *execInstance // nil while restarting
	ep      Endpoint
	closing chan struct{} // closed by Close
	once    sync.Once
	done    chan struct{} // closed once no instance runs or will
}

// watch waits for an instance's exit, removes its endpoint at once (so no
// call goes to its dead socket), and restarts it when asked to.
func (r *execRuntime) watch(inst *execInstance) {
	<-inst.Exited()
	r.env.Endpoints.UpdateEndpoints(nil)
	r.mu.Lock()
	r.cur = nil
	r.mu.Unlock()
	if !r.cfg.restart || r.isClosing() {
		r.env.Endpoints.Ended(inst.ExitError())
		close(r.done)
		return
	}
	log := r.env.Logger.With("plugin", r.env.Name)
	backoff := 50 * time.Millisecond
	for {
		delay := backoff/2 + rand.N(backoff/2+1) // jitter
		log.Warn("plugin exited; restarting", "error", inst.ExitError(), "in", delay)
		select {
		case <-r.closing:
			r.env.Endpoints.Ended(inst.ExitError())
			close(r.done)
			return
		case <-time.After(delay):
		}
		next, ep, err := r.launch()
		if err == nil {
			r.mu.Lock()
			r.cur, r.ep = next, ep
			r.mu.Unlock()
			if r.isClosing() {
				_ = next.p.Terminate(context.Background(), r.env.KillTimeout)
				r.env.Endpoints.Ended(inst.ExitError())
				close(r.done)
				return
			}
			r.env.Endpoints.UpdateEndpoints([]Endpoint{ep})
			go r.watch(next)
			return
		}
		log.Warn("plugin restart failed", "error", err)
		backoff = min(2*backoff, 5*time.Second)
	}
}

// launch starts a replacement, bounded by the start timeout and by Close.
func (r *execRuntime) launch() (*execInstance, Endpoint, error) {
	ctx, cancel := context.WithTimeoutCause(context.Background(), r.env.StartTimeout, errStartDeadline)
	defer cancel()
	go func() {
		select {
		case <-r.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	return launchInstance(ctx, r.env, r.cfg, r.path)
}

func (r *execRuntime) isClosing() bool {
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
func (r *execRuntime) Close(ctx context.Context, stop func(context.Context, Endpoint) error) error {
	r.once.Do(func() { close(r.closing) })
	r.mu.Lock()
	inst, ep := r.cur, r.ep
	r.mu.Unlock()
	var err error
	if inst != nil && !inst.p.HasExited() {
		sctx, cancel := context.WithTimeout(ctx, r.env.KillTimeout)
		if stop(sctx, ep) == nil {
			select {
			case <-inst.Exited():
			case <-sctx.Done():
			}
		}
		cancel()
		err = inst.p.Terminate(ctx, r.env.KillTimeout)
	}
	select {
	case <-r.done:
	case <-time.After(processExitGrace + r.env.KillTimeout):
		err = errors.Join(err, fmt.Errorf("the exec runtime did not stop"))
	}
	return err
}
