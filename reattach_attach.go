package tether

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc/credentials"

	"github.com/tetherplug/tether/internal/proc"
)

// reattachScheme is the scheme of attached clients' targets. No runtime is
// registered under it: only Attach reaches the reattach runtime.
const reattachScheme = "reattach"

// Attach returns a Client of a running local plugin that another host
// launched, from the config that host's Client.ReattachConfig returned (see
// ReadReattachConfig). Like Open it returns once the plugin has answered
// Describe with versions that fit the host's WithInterface; the plugin must
// also still speak the config's protocol version and serve its interfaces,
// or Attach fails with a *VersionError. The attaching host has a session of
// its own: WithCallbacks works, and the plugin's callbacks for this host
// reach this host only. Exec options (WithArgs, WithAutoMTLS...) are refused.
//
// Attaching never stops or signals the plugin: not when Attach fails, and
// not on Close or Kill, which only disconnect this host. The plugin lives as
// long as its launching host lets it (see Client.ReattachConfig); when its
// process ends (when the config has its pid), the Client's Exited is closed.
//
// Errors: a config that cannot be used (no address, a protocol other than
// grpc, bad PEM) is ErrBadTarget naming the field; a plugin whose process
// is gone, or whose pid now belongs to another process (its start time
// differs), or whose socket is gone is ErrUnavailable, at once.
func Attach(ctx context.Context, cfg ReattachConfig, opts ...Option) (*Client, error) {
	creds, err := cfg.check()
	if err != nil {
		return nil, err
	}
	cfg = cfg.clone()
	if cfg.Plugin != "" {
		opts = append([]Option{WithName(cfg.Plugin)}, opts...)
	}
	t := Target{Raw: reattachScheme + ":" + cfg.Network + ":" + cfg.Address, Scheme: reattachScheme}
	c, err := load(ctx, reattachBuilder{cfg: cfg, creds: creds}, t, opts)
	if err != nil {
		return nil, err
	}
	if err := c.matchesReattach(cfg); err != nil {
		_ = c.Close() // disconnects only
		return nil, err
	}
	return c, nil
}

// matchesReattach checks that the plugin still serves what the config says
// it negotiated: otherwise another plugin answers at its address.
func (c *Client) matchesReattach(cfg ReattachConfig) error {
	if c.describe == nil {
		return nil // a go-plugin plugin: its protocol version was all there was to check
	}
	vs := make([]int, len(c.describe.ProtocolVersions))
	for i, v := range c.describe.ProtocolVersions {
		vs[i] = int(v)
	}
	if !slices.Contains(vs, cfg.ProtocolVersion) {
		return &VersionError{Plugin: c.name, HostVersions: []int{cfg.ProtocolVersion}, PluginVersions: vs}
	}
	served := described{resp: c.describe}.served(nil)
	for iface, v := range cfg.Interfaces {
		if !slices.Contains(served[iface], v) {
			return &VersionError{Plugin: c.name, Interface: iface, HostVersions: []int{v}, PluginVersions: served[iface]}
		}
	}
	return nil
}

// reattachBuilder is the runtime of one attached plugin: it reports the
// config's endpoint and watches its process, and never stops it.
type reattachBuilder struct {
	cfg   ReattachConfig
	creds credentials.TransportCredentials
}

func (reattachBuilder) Scheme() string { return reattachScheme }

func (b reattachBuilder) Build(_ context.Context, _ Target, env RuntimeEnv) (Runtime, error) {
	cfg := b.cfg
	gone := func(detail string) error {
		return &PluginError{Plugin: env.Name, Kind: ErrUnavailable, Detail: detail}
	}
	if !slices.Contains(env.ProtocolVersions, cfg.ProtocolVersion) {
		return nil, &VersionError{Plugin: env.Name, HostVersions: env.ProtocolVersions, PluginVersions: []int{cfg.ProtocolVersion}}
	}
	if cfg.Pid > 0 {
		if err := checkProcess(cfg.Pid, cfg.StartTime); err != nil {
			return nil, gone(err.Error())
		}
	}
	if cfg.Network == "unix" {
		if _, err := os.Stat(cfg.Address); errors.Is(err, fs.ErrNotExist) {
			return nil, gone("its socket " + cfg.Address + " is gone")
		}
	}
	r := &reattachRuntime{cfg: cfg, stop: make(chan struct{}), done: make(chan struct{})}
	ep := Endpoint{Network: cfg.Network, Address: cfg.Address, Creds: b.creds, ProtocolVersion: cfg.ProtocolVersion, FailFast: true}
	if cfg.TLS != nil {
		ep.ServerName = cfg.TLS.ServerName
	}
	if cfg.Spool != nil {
		r.spool = followSpool(cfg.Spool, env)
	}
	if cfg.Pid > 0 {
		r.inst = &attachedInstance{name: env.Name, pid: cfg.Pid, start: cfg.StartTime, exited: make(chan struct{})}
		ep.Instance = r.inst
		go r.watch(env.Endpoints)
	} else {
		close(r.done)
	}
	env.Endpoints.UpdateEndpoints([]Endpoint{ep})
	return r, nil
}

// reattachRuntime is an attached plugin's runtime.
type reattachRuntime struct {
	cfg   ReattachConfig
	inst  *attachedInstance // nil without a pid
	spool *spoolReader      // nil unless the plugin prints to spool files
	once  sync.Once
	stop  chan struct{} // closed by Close
	done  chan struct{} // closed when watch returns
}

// processPoll is how often an attached plugin's process is looked at.
const processPoll = 200 * time.Millisecond

// watch ends the client's endpoints when the plugin's process is gone.
func (r *reattachRuntime) watch(sink EndpointSink) {
	defer close(r.done)
	tick := time.NewTicker(processPoll)
	defer tick.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-tick.C:
		}
		if err := checkProcess(r.inst.pid, r.inst.start); err != nil {
			if r.spool != nil {
				r.spool.drain()
				r.inst.output = r.spool.fwd.Tail()
			}
			r.inst.end(err)
			sink.UpdateEndpoints(nil)
			sink.Ended(r.inst.ExitError())
			return
		}
	}
}

// Close disconnects: the plugin is left running, stop is never called.
func (r *reattachRuntime) Close(context.Context, func(context.Context, Endpoint) error) error {
	r.once.Do(func() { close(r.stop) })
	<-r.done
	if r.spool != nil {
		r.spool.stop()
	}
	return nil
}

// attachedInstance is an attached plugin's process, which is not this
// host's child: its end is seen by polling, its exit status is unknown.
type attachedInstance struct {
	name   string
	pid    int
	start  uint64
	exited chan struct{}
	output string // its last stderr lines, when they came through a spool
	mu     sync.Mutex
	err    error
}

func (a *attachedInstance) Pid() int                { return a.pid }
func (a *attachedInstance) Exited() <-chan struct{} { return a.exited }

func (a *attachedInstance) ExitError() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

func (a *attachedInstance) end(why error) {
	a.mu.Lock()
	a.err = &PluginError{Plugin: a.name, Kind: ErrPluginExited, Output: a.output,
		Detail: why.Error() + " (it is not this host's child, so its exit status is unknown)"}
	a.mu.Unlock()
	close(a.exited)
}

// checkProcess says why process pid is not the plugin's any more: gone,
// exited, or another process under a reused pid (its start time is not
// start, when start is known). It sends no signal: without /proc it asks
// kill(2) with signal 0, which only checks the process exists.
func checkProcess(pid int, start uint64) error {
	st, err := proc.ReadStat(pid)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if _, serr := os.Stat("/proc/self/stat"); serr == nil {
			return fmt.Errorf("its process %d is gone", pid)
		}
		if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			return fmt.Errorf("its process %d is gone", pid)
		}
		return nil
	case err != nil:
		return nil // unreadable: the connection will tell
	case st.Exited():
		return fmt.Errorf("its process %d has exited", pid)
	case start != 0 && st.StartTime != start:
		return fmt.Errorf("its pid %d now belongs to another process (started at tick %d, the config says %d)", pid, st.StartTime, start)
	}
	return nil
}
