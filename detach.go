package tether

import (
	"context"
	"errors"
	"fmt"
)

// detacher is a runtime that can let go of its instances without stopping
// them.
type detacher interface {
	// detach stops watching and restarting, leaving what runs running; it
	// fails, changing nothing, when the runtime was not asked to let its
	// plugin outlive the host.
	detach() error
}

// Detach disconnects from the plugin and leaves it running, for a later
// host to attach to (see ReattachConfig and Attach): a plugin launched
// WithOutliveHost, or one this client attached to. Detach fails, and the
// client stays as it was, for any other plugin. After Detach the client is
// closed: calls fail, and Kill and Close do nothing.
//
// A detached plugin launched by this host remains its child until the
// host exits; its stderr is still logged until then.
func (c *Client) Detach() error {
	d, ok := c.runtime.(detacher)
	if !ok {
		return &PluginError{Plugin: c.name, Kind: ErrBadTarget,
			Detail: fmt.Sprintf("the %s runtime cannot leave its plugin running", c.target.Scheme)}
	}
	if err := d.detach(); err != nil {
		return &PluginError{Plugin: c.name, Kind: ErrBadTarget, Detail: err.Error()}
	}
	c.closeOnce.Do(func() {
		if c.callbacks != nil {
			c.callbacks.close()
		}
		sink{c}.Ended(nil)
		c.pool.stopAll()
		c.closeErr = c.conn.Close()
	})
	return nil
}

// detach lets an attached plugin be, as its Close does.
func (r *reattachRuntime) detach() error { return r.Close(context.Background(), nil) }

// detach leaves a plugin launched WithOutliveHost running.
func (r *execRuntime) detach() error {
	if !r.cfg.outlive {
		return errors.New("only a plugin launched WithOutliveHost can be left running")
	}
	r.once.Do(func() { close(r.closing) }) // no restart after this
	r.mu.Lock()
	inst := r.cur
	r.mu.Unlock()
	if inst != nil {
		inst.p.ReleaseSpool() // a later host reads on from the reattach config
	}
	return nil
}
