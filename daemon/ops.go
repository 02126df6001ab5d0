package daemon

import (
	"context"
	"errors"
	"os"
	"slices"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/tetherv1"
	"github.com/tetherplug/tether/supervise"
)

// generation counts what happened to an instance, so that Restart can
// wait for what comes after its request.
type generation struct {
	ready int // Ready and Adopted events: an incarnation takes calls
	ended int // Failed and Stopped events: no incarnation will come
}

// onEvent is the supervisor's OnEvent: it counts the instance's
// generation and wakes its watchers.
func (d *Daemon) onEvent(e supervise.Event) {
	d.genMu.Lock()
	g := d.gens[e.Instance]
	switch e.Kind {
	case supervise.Ready, supervise.Adopted:
		g.ready++
	case supervise.Failed, supervise.Stopped:
		g.ended++
	}
	d.gens[e.Instance] = g
	d.genMu.Unlock()
	d.hub.notify(e.Instance)
}

func (d *Daemon) generation(name string) generation {
	d.genMu.Lock()
	defer d.genMu.Unlock()
	return d.gens[name]
}

// statusOf is the named instance's status, nil if there is none.
func (d *Daemon) statusOf(name string) *tetherv1.InstanceStatus {
	for _, st := range d.sup.Status() {
		if st.Name == name {
			return d.instanceStatus(st)
		}
	}
	return nil
}

// networkTarget is the named instance's target if it is a network
// plugin, one tether run watches but did not start.
func (d *Daemon) networkTarget(name string) (string, bool) {
	for _, st := range d.sup.Status() {
		if st.Name == name {
			t, err := tether.ParseTarget(st.Target)
			return st.Target, err == nil && t.Scheme != "exec"
		}
	}
	return "", false
}

// Restart restarts one instance and, with wait, waits until it is ready
// again, failed or stopped, or the call's deadline passes.
func (c *control) Restart(ctx context.Context, req *tetherv1.RestartRequest) (*tetherv1.RestartResponse, error) {
	d, name := c.d, req.GetName()
	kick := d.hub.sub(name)
	defer d.hub.unsub(name, kick)
	before := d.generation(name)
	if err := d.sup.Restart(name); errors.Is(err, supervise.ErrNoInstance) {
		return nil, notFound(name)
	} else if err != nil {
		return nil, status.Error(codes.FailedPrecondition, err.Error())
	}
	d.log.Info("restart requested over the control socket", "instance", name)
	if !req.GetWait() {
		return &tetherv1.RestartResponse{}, nil
	}
	for {
		if g := d.generation(name); g.ready > before.ready || g.ended > before.ended {
			return &tetherv1.RestartResponse{Instance: d.statusOf(name)}, nil
		}
		select {
		case <-kick:
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		case <-d.closing:
			return nil, status.Error(codes.Unavailable, "tether run is stopping")
		}
	}
}

// Reload reads the manifest again and says what it changes.
func (c *control) Reload(context.Context, *tetherv1.ReloadRequest) (*tetherv1.ReloadResponse, error) {
	d := c.d
	d.mu.Lock()
	old := d.manifest
	d.mu.Unlock()
	m, err := d.reload()
	if err != nil {
		return nil, status.Error(codes.FailedPrecondition, err.Error())
	}
	// The period that applies: the manifest's, or the supervisor's default.
	resp := &tetherv1.ReloadResponse{QuietPeriodNanos: int64(d.sup.QuietPeriod())}
	was := map[string]string{}
	for _, sp := range old.Specs {
		was[sp.Name] = sp.Hash()
	}
	for _, sp := range m.Specs {
		h, ok := was[sp.Name]
		switch {
		case !ok:
			resp.Added = append(resp.Added, sp.Name)
		case h != sp.Hash():
			resp.Changed = append(resp.Changed, sp.Name)
		default:
			resp.Unchanged++
		}
		delete(was, sp.Name)
	}
	for name := range was {
		resp.Removed = append(resp.Removed, name)
	}
	slices.Sort(resp.Removed)
	return resp, nil
}

// Stop asks the daemon to stop, as SIGTERM does, and returns at once.
func (c *control) Stop(context.Context, *tetherv1.StopRequest) (*tetherv1.StopResponse, error) {
	d := c.d
	d.stopOnce.Do(func() { close(d.stopReq) })
	return &tetherv1.StopResponse{Pid: int32(os.Getpid())}, nil
}
