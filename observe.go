package tether

import (
	"errors"
	"os/exec"
	"slices"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
)

// Observer is told of the clients a host opens and of what happens to
// them, for metrics or the like: package metrics is one. WithObserver gives
// one to a load; tether itself links nothing an observer uses.
type Observer interface {
	// ObserveClient is called by Open once the client's name is known,
	// before its runtime starts anything, and returns what to attach to
	// that client. The client's Instances and Restarts may be read from
	// then on, from any goroutine, until Closed.
	ObserveClient(c *Client) ClientObserver
}

// ClientObserver is what an Observer attaches to one client. Any field may
// be nil.
type ClientObserver struct {
	// Unary and Stream wrap the client's calls on either transport, inside
	// the host's own interceptors (WithUnaryInterceptors) and outside
	// tether's: they see its typed errors, whose gRPC status is the call's.
	// tether's own calls to an instance (Describe, the health check, the
	// shutdown) go through them as well.
	Unary  grpc.UnaryClientInterceptor
	Stream grpc.StreamClientInterceptor
	// Refused is called each time an instance is refused and receives no
	// calls: err says why, a *VersionError for versions that do not fit
	// (errors.Is ErrIncompatibleVersion), a *PluginError otherwise (ErrTLS,
	// ErrNotPlugin, ErrStartTimeout...). It must not block.
	Refused func(err error)
	// Closed is called once when the client is closed (Close or Kill) or
	// when its Open fails; the observer should then forget the client.
	Closed func()
}

// WithObserver attaches o to the client Open makes (see Observer).
// Several observers may be given; each sees every call.
func WithObserver(o Observer) Option {
	return hostOption(func(opts *options) { opts.observers = append(opts.observers, o) })
}

// observation is what a client's observers attached to it.
type observation struct {
	refused   []func(error)
	closed    []func()
	closeOnce sync.Once
}

// observe asks the load's observers what to attach to c and returns the
// options c's connection is made with: o, with their interceptors after
// the host's own.
func (c *Client) observe(o *options) *options {
	if len(o.observers) == 0 {
		return o
	}
	cp := *o
	cp.unaryInts, cp.streamInts = slices.Clip(o.unaryInts), slices.Clip(o.streamInts)
	for _, ob := range o.observers {
		co := ob.ObserveClient(c)
		if co.Unary != nil {
			cp.unaryInts = append(cp.unaryInts, co.Unary)
		}
		if co.Stream != nil {
			cp.streamInts = append(cp.streamInts, co.Stream)
		}
		if co.Refused != nil {
			c.observed.refused = append(c.observed.refused, co.Refused)
		}
		if co.Closed != nil {
			c.observed.closed = append(c.observed.closed, co.Closed)
		}
	}
	c.opts = &cp
	return &cp
}

// instanceRefused tells the observers an instance was refused.
func (c *Client) instanceRefused(err error) {
	for _, f := range c.observed.refused {
		f(err)
	}
}

// observedClosed tells the observers, once, that c is closed.
func (c *Client) observedClosed() {
	c.observed.closeOnce.Do(func() {
		for _, f := range c.observed.closed {
			f()
		}
	})
}

// Restarts is what a client knows of its plugin's restarts: how often the
// runtime started an instance again after one exited (WithRestart), and
// how the latest instance to exit ended.
type Restarts struct {
	// Count is how many instances replaced one that had exited.
	Count int
	// LastExit is how the latest instance to exit ended (a *PluginError
	// wrapping ErrPluginExited, with its exit status); nil while none has.
	LastExit error
	// LastExitCode is that instance's exit status: 128+N when signal N
	// ended it, as a shell says, and -1 when it is not known. It means
	// something only when LastExit is set.
	LastExitCode int
	// LastExitTime is when the client saw that instance go.
	LastExitTime time.Time
}

// Restarts says how often the plugin's instances were replaced after they
// exited, and how the latest one ended. A plugin whose runtime does not
// restart it (no WithRestart, a network plugin) reports Count 0; one whose
// instances are not processes of this host reports no exit.
func (c *Client) Restarts() Restarts {
	c.life.mu.Lock()
	defer c.life.mu.Unlock()
	return c.life.Restarts
}

// lifecycle follows the instances the runtime reports, to count the ones
// that replace an instance that exited.
type lifecycle struct {
	mu sync.Mutex
	Restarts
	current map[string]Instance // the instances of the latest report, by endpoint
	waiting int                 // exits not yet followed by a replacement
}

// update takes a new endpoint set from the runtime: an instance no longer
// in it that has exited is an exit, and a replaceable instance new in it
// replaces one.
func (l *lifecycle) update(eps []Endpoint) {
	l.mu.Lock()
	defer l.mu.Unlock()
	next := make(map[string]Instance, len(eps))
	for _, ep := range eps {
		if ep.Instance != nil {
			next[ep.key()] = ep.Instance
		}
	}
	for key, in := range l.current {
		if _, still := next[key]; still || in.Exited() == nil {
			continue
		}
		select {
		case <-in.Exited():
			l.LastExit, l.LastExitCode, l.LastExitTime = in.ExitError(), exitCode(in.ExitError()), time.Now()
			l.waiting++
		default:
		}
	}
	for _, ep := range eps {
		if _, known := l.current[ep.key()]; !known && ep.Instance != nil && ep.Replaceable && l.waiting > 0 {
			l.waiting--
			l.Count++
		}
	}
	l.current = next
}

// exitCode is the exit status an instance's exit error carries, 128+N for
// signal N, or -1.
func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	var pe *PluginError
	if errors.As(err, &pe) && pe.Exited && pe.ExitCode >= 0 {
		return pe.ExitCode
	}
	return -1
}
