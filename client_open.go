package tether

import (
	"context"
	"fmt"
	"path/filepath"
	"time"
)

// Open loads the plugin a target names and returns once one of its
// instances has answered Describe with versions that fit the interfaces
// asked for with WithInterface. The target's scheme picks the runtime that
// starts or finds the instances: a path or exec:///path launches a local
// program (see Launch); other schemes are those registered with
// RegisterRuntime. Where a plugin runs is thus configuration: the rest of
// the host's code is the same for every target.
//
// Options of one runtime (WithArgs, WithEnv, WithChecksum and the other
// exec options) are refused for targets of other runtimes. On failure
// nothing is left running and the error is a *PluginError or *VersionError
// wrapping one of the sentinel errors: ErrBadTarget for a target that
// cannot be parsed, an unknown scheme or a misplaced option.
func Open(ctx context.Context, target string, opts ...Option) (*Client, error) {
	t, err := ParseTarget(target)
	if err != nil {
		return nil, err
	}
	return open(ctx, t, opts)
}

// Launch starts the plugin program at path (never looked up in $PATH; a
// name without a slash is relative to the working directory), completes the
// handshake, connects, and negotiates the interfaces asked for with
// WithInterface. It is Open for a local program, with path taken as it is
// even if it contains "://".
//
// The plugin dies with the host (unless WithOutliveHost): through a
// parent-death signal, and a tether plugin also watches a pipe only its
// host holds open, which works through wrapper scripts too.
func Launch(ctx context.Context, path string, opts ...Option) (*Client, error) {
	return open(ctx, Target{Raw: path, Scheme: execScheme, Path: path}, opts)
}

func open(ctx context.Context, t Target, opts []Option) (*Client, error) {
	o := buildOptions(opts)
	b, why := o.runtimeFor(t)
	if b == nil {
		return nil, badTarget(t.Raw, why, nil)
	}
	settings, err := o.settingsFor(t)
	if err != nil {
		return nil, err
	}
	name := o.name
	if name == "" {
		name = t.Raw
		if t.Scheme == execScheme {
			name = filepath.Base(t.Path)
		}
	}
	c, err := newClient(name, t, o, b)
	if err != nil {
		return nil, err
	}
	if len(o.callbacks) > 0 {
		c.callbacks = newCallbackHost(o.callbacks, o.tracing)
	}
	// One deadline for the whole start: the runtime's launch, the
	// connection and Describe together.
	ctx, cancel := context.WithTimeoutCause(ctx, o.startTimeout, ErrStartTimeout)
	defer cancel()
	rt, err := b.Build(ctx, t, RuntimeEnv{Name: name, Logger: o.logger, ProtocolVersions: o.protocolVersions,
		StartTimeout: o.startTimeout, Endpoints: sink{c}, FastTransport: c.fast != nil, Tracing: o.tracing != nil, settings: settings})
	if err != nil {
		c.abort(nil)
		return nil, err
	}
	select {
	case <-c.admission.first:
		err = c.admission.firstErr
	case <-ctx.Done():
		err = c.startTimeout(ctx)
	}
	if err != nil {
		err = c.explainStartFailure(err)
		c.abort(rt)
		return nil, err
	}
	c.runtime = rt
	return c, nil
}

// startTimeout is the error of a load whose deadline passed before any
// instance was admitted.
func (c *Client) startTimeout(ctx context.Context) error {
	e := &PluginError{Plugin: c.name, Kind: ErrStartTimeout, Err: c.admission.lastError()}
	switch {
	case context.Cause(ctx) != ErrStartTimeout:
		e.Detail, e.Err = "gave up waiting for it to answer", ctx.Err()
	case !c.admission.everConnected():
		e.Detail = "it accepted no gRPC connection in time"
		if why := c.dials.stuck(); why != "" {
			e.Detail += ": " + why
		}
	default:
		e.Detail = fmt.Sprintf("no instance answered Describe within %v", c.opts.startTimeout)
	}
	return e
}

// explainStartFailure prefers an instance's exit to what it caused (a
// connection reset, say) as the reason a load failed.
func (c *Client) explainStartFailure(err error) error {
	if eps := c.admission.exitable(); len(eps) > 0 {
		if ep, ok := firstExited(eps, startExitWait); ok {
			if pe, ok := ep.Instance.ExitError().(*PluginError); ok {
				cp := *pe
				cp.Detail = "it exited after its handshake, before it answered"
				return &cp
			}
		}
	}
	return err
}

// startExitWait is how long a failed load waits to learn whether the
// plugin exited, which explains the failure better than its effects.
const startExitWait = 250 * time.Millisecond

// abort undoes a failed load at once: no graceful shutdown, since the
// plugin never took a call.
func (c *Client) abort(rt Runtime) {
	if c.callbacks != nil {
		c.callbacks.close()
	}
	if rt != nil {
		ctx, cancel := context.WithTimeout(context.Background(), abortTimeout)
		_ = rt.Close(ctx, func(context.Context, Endpoint) error { return errNoGrace })
		cancel()
	}
	c.fast.closeAll()
	c.admission.stopAll()
	c.observedClosed()
	_ = c.conn.Close()
}

// abortTimeout bounds how long a failed load waits for its runtime to
// undo what it started (which bounds its own steps).
const abortTimeout = 10 * time.Second

var errNoGrace = fmt.Errorf("tether: no graceful shutdown for a load that failed")
