package execruntime

import (
	"errors"
	"io/fs"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/tetherplug/tether/internal/proc"
)

// Attach follows a running plugin another host launched, from its
// reattach config: it checks that the config is usable, that its process
// is still the one the config names and its socket is there, reports its
// endpoint, and watches its process. It never stops or signals it. out
// gives Stdout and Stderr, where the output of a plugin that prints to
// spool files goes.
func Attach(env Env, cfg ReattachConfig, out Config) (*AttachedRuntime, error) {
	gone := func(detail string) error {
		return &Error{Plugin: env.Name, Kind: KindUnavailable, Detail: detail}
	}
	ep, err := ReattachEndpoint(cfg)
	if err != nil {
		return nil, err
	}
	cfg = cfg.clone()
	if !slices.Contains(env.ProtocolVersions, cfg.ProtocolVersion) {
		return nil, &Error{Plugin: env.Name, Kind: KindVersion, Detail: "no shared protocol version",
			HostVersions: env.ProtocolVersions, PluginVersions: []int{cfg.ProtocolVersion}}
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
	r := &AttachedRuntime{cfg: cfg, stop: make(chan struct{}), done: make(chan struct{})}
	if cfg.Spool != nil {
		r.spool = followSpool(cfg.Spool, env, out)
	}
	if cfg.Pid > 0 {
		r.inst = &Attached{name: env.Name, pid: cfg.Pid, start: cfg.StartTime, exited: make(chan struct{})}
		ep.Instance = r.inst
		go r.watch(env)
	} else {
		close(r.done)
	}
	env.Report([]Endpoint{ep})
	return r, nil
}

// AttachedRuntime is an attached plugin's runtime.
type AttachedRuntime struct {
	cfg   ReattachConfig
	inst  *Attached    // nil without a pid
	spool *spoolReader // nil unless the plugin prints to spool files
	once  sync.Once
	stop  chan struct{} // closed by Close
	done  chan struct{} // closed when watch returns
}

// processPoll is how often an attached plugin's process is looked at.
const processPoll = 200 * time.Millisecond

// watch ends the client's endpoints when the plugin's process is gone.
func (r *AttachedRuntime) watch(env Env) {
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
			env.Report(nil)
			env.Ended(r.inst.ExitError())
			return
		}
	}
}

// Close disconnects: the plugin is left running.
func (r *AttachedRuntime) Close() error {
	r.once.Do(func() { close(r.stop) })
	<-r.done
	if r.spool != nil {
		r.spool.stop()
	}
	return nil
}

// Attached is an attached plugin's process, which is not this
// host's child: its end is seen by polling, its exit status is unknown.
type Attached struct {
	name   string
	pid    int
	start  uint64
	exited chan struct{}
	output string // its last stderr lines, when they came through a spool
	mu     sync.Mutex
	err    error
}

// Pid is the plugin's process id.
func (a *Attached) Pid() int { return a.pid }

// Exited is closed when its process is seen gone.
func (a *Attached) Exited() <-chan struct{} { return a.exited }

// ExitError says it is gone, nil while it runs.
func (a *Attached) ExitError() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

func (a *Attached) end(why error) {
	a.mu.Lock()
	a.err = &Error{Plugin: a.name, Kind: KindPluginExited, Output: a.output,
		Detail: why.Error() + " (it is not this host's child, so its exit status is unknown)"}
	a.mu.Unlock()
	close(a.exited)
}

// checkProcess says why process pid is not the plugin's any more; it
// sends no signal (see proc.Check).
func checkProcess(pid int, start uint64) error { return proc.Check(pid, start) }

// ReattachConfig is the config this runtime attached with, with how far
// this host has passed on the plugin's spooled output.
func (r *AttachedRuntime) ReattachConfig() ReattachConfig {
	cfg := r.cfg.clone()
	r.spool.offsets(cfg.Spool)
	return cfg
}
