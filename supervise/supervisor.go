package supervise

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/proc"
)

// Config configures a Supervisor.
type Config struct {
	// Dir is the data directory for durable state (pid files, log files,
	// the state file; see docs/supervision.md), created 0700 if missing.
	// Empty: nothing is kept, and nothing is re-adopted.
	Dir string
	// Logger receives the supervisor's records and the plugins' own,
	// re-levelled; nil means slog.Default().
	Logger *slog.Logger
	// OnEvent, if set, is called with every event, in order for each
	// instance, from that instance's goroutine: it must not block long.
	OnEvent func(Event)
	// LogMaxBytes and LogKeep bound each instance's log files (see
	// LogPath): a file is rotated before it passes LogMaxBytes, and LogKeep
	// rotated files are kept. 0 means 10 MiB and 5.
	LogMaxBytes int64
	LogKeep     int
	// QuietPeriod is how long Propose waits for the desired set to stop
	// changing before it applies it; 0 means DefaultQuietPeriod.
	QuietPeriod time.Duration
}

// DefaultQuietPeriod is Config.QuietPeriod's default.
const DefaultQuietPeriod = 500 * time.Millisecond

// Supervisor keeps a set of named instances running. Its methods are safe
// for concurrent use.
type Supervisor struct {
	cfg Config
	log *slog.Logger

	mu        sync.Mutex
	instances map[string]*instance
	closed    bool

	store    *store            // nil without a data directory
	recorded map[string]record // what an earlier host left running, for the first Apply
	// inherited are the records of recorded not settled yet (re-adopted,
	// or stopped): the state file keeps them meanwhile, so that a host
	// killed in the middle of the first Apply forgets no process.
	inherited map[string]record

	applyMu  sync.Mutex // one Apply at a time
	proposed chan []Spec
	applies  int // how many applies ran, for Status callers and tests
	stopProp chan struct{}
	propDone chan struct{}
}

// New returns a Supervisor running nothing yet; Apply gives it instances,
// re-adopting those the state in cfg.Dir records as still running.
func New(cfg Config) (*Supervisor, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.LogMaxBytes <= 0 {
		cfg.LogMaxBytes = 10 << 20
	}
	if cfg.LogKeep <= 0 {
		cfg.LogKeep = 5
	}
	if cfg.QuietPeriod <= 0 {
		cfg.QuietPeriod = DefaultQuietPeriod
	}
	s := &Supervisor{cfg: cfg, log: cfg.Logger, instances: map[string]*instance{},
		proposed: make(chan []Spec, 1), stopProp: make(chan struct{}), propDone: make(chan struct{})}
	if cfg.Dir != "" {
		st, recs, err := openStore(cfg.Dir, s.log.Warn)
		if err != nil {
			return nil, err
		}
		s.store, s.recorded, s.inherited = st, recs, maps.Clone(recs)
		go st.run(s.snapshot)
	}
	go s.coalesce()
	return s, nil
}

// ErrNoInstance is wrapped by the error of a method given a name the
// supervisor has no instance of.
var ErrNoInstance = errors.New("supervise: no such instance")

// ErrClosed is returned by the methods of a closed Supervisor.
var ErrClosed = errors.New("supervise: the supervisor is closed")

// Apply makes specs the desired set: instances not in it are stopped,
// instances whose spec changed (see Spec.Hash) are restarted with the new
// one, new ones are started, and unchanged ones are left running. Specs
// are all checked first; if one is invalid, nothing changes. Apply returns
// once every change is under way, without waiting for new instances to be
// ready.
func (s *Supervisor) Apply(ctx context.Context, specs []Spec) error {
	want := map[string]Spec{}
	for _, sp := range specs {
		sp, err := sp.withDefaults()
		if err != nil {
			return err
		}
		if _, dup := want[sp.Name]; dup {
			return fmt.Errorf("supervise: instance %s is named twice", sp.Name)
		}
		want[sp.Name] = sp
	}
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.applies++
	var gone []*instance
	for name, in := range s.instances {
		if sp, ok := want[name]; !ok || sp.Hash() != in.spec.Hash() {
			gone = append(gone, in)
			delete(s.instances, name)
		}
	}
	s.mu.Unlock()
	var errs []error
	for _, in := range gone {
		errs = append(errs, in.halt(ctx, false))
	}
	s.mu.Lock()
	var added []*instance
	for _, name := range slices.Sorted(maps.Keys(want)) {
		if _, ok := s.instances[name]; !ok {
			in := s.newInstance(want[name])
			s.instances[name] = in
			added = append(added, in)
		}
	}
	recorded := s.recorded
	s.recorded = nil
	s.mu.Unlock()
	for _, in := range added {
		rec, ok := recorded[in.spec.Name]
		delete(recorded, in.spec.Name)
		var c *tether.Client
		if ok {
			if hook := beforeReadopt.Load(); hook != nil {
				(*hook)(s.cfg.Dir, in.spec.Name)
			}
			c = s.readopt(in, rec)
			s.settled(in.spec.Name)
		}
		go in.run(c)
	}
	for name, rec := range recorded {
		s.stopRecorded(name, rec, "no longer wanted as it was")
		s.settled(name)
	}
	return errors.Join(errs...)
}

// beforeReadopt, if set, is called before each re-adoption: a test hook to
// look at the state in the middle of them.
var beforeReadopt atomic.Pointer[func(dir, name string)]

// settled drops the record an earlier host left for name from those the
// state file keeps: its process is re-adopted, stopped, or gone.
func (s *Supervisor) settled(name string) {
	s.mu.Lock()
	delete(s.inherited, name)
	s.mu.Unlock()
	s.changed()
}

// readopt takes over the process rec says runs in's instance, or stops it
// when the spec changed, when it was not ready yet, or when it does not
// answer; it returns the adopted client, or nil to start the instance anew.
func (s *Supervisor) readopt(in *instance, rec record) *tether.Client {
	switch {
	case rec.Hash != in.spec.Hash() || !in.local:
		s.stopRecorded(in.spec.Name, rec, "no longer wanted as it was")
		return nil
	case rec.Reattach == nil:
		s.stopRecorded(in.spec.Name, rec, "it was not ready when that host ended")
		return nil
	}
	c, a, err := s.adopt(in.spec, rec, in.logs)
	if err != nil {
		s.log.Warn("not re-adopting the recorded process; starting the instance anew",
			"instance", in.spec.Name, "pid", rec.Reattach.Pid, "err", err)
		// Still the very process recorded (pid and start time) but not
		// answering: it is this supervisor's, and would run on as a duplicate.
		s.stopRecorded(in.spec.Name, rec, "it does not answer as the instance")
		return nil
	}
	in.mu.Lock()
	in.adoptProc, in.restarts = a, rec.Restarts
	in.mu.Unlock()
	in.becameUp(c, true)
	if t, err := proc.Started(a.StartTime()); err == nil {
		in.mu.Lock()
		in.since = t // its uptime is the process's, not this host's
		in.mu.Unlock()
	}
	in.emit(Event{Kind: Adopted, Pid: c.Pid()})
	return c
}

// snapshot is the state file's view of the instances. The records an
// earlier host left are kept until settled, in place of their instance's
// while it has no process of its own.
func (s *Supervisor) snapshot() map[string]record {
	s.mu.Lock()
	all := slices.Collect(maps.Values(s.instances))
	recs := maps.Clone(s.inherited)
	s.mu.Unlock()
	if recs == nil {
		recs = map[string]record{}
	}
	for _, in := range all {
		in.refreshReattach()
		in.mu.Lock()
		r := record{Hash: in.spec.Hash(), Target: in.spec.Target, State: in.state,
			Restarts: in.restarts, Outlive: in.spec.OutliveHost, Reattach: in.reattach, Launched: in.launched}
		in.mu.Unlock()
		if _, old := recs[in.spec.Name]; old && r.Reattach == nil && r.Launched == nil {
			continue
		}
		recs[in.spec.Name] = r
	}
	return recs
}

// Propose is Apply for bursts of changes: the set is applied once no other
// Propose came for the quiet period, so five edits in a row make one apply.
// An invalid set is logged and not applied.
func (s *Supervisor) Propose(specs []Spec) {
	select {
	case <-s.proposed: // replace a set not applied yet
	default:
	}
	s.proposed <- specs
}

func (s *Supervisor) coalesce() {
	defer close(s.propDone)
	var pending []Spec
	var quiet <-chan time.Time
	for {
		select {
		case specs := <-s.proposed:
			pending, quiet = specs, time.After(s.cfg.QuietPeriod)
		case <-quiet:
			quiet = nil
			if err := s.Apply(context.Background(), pending); err != nil {
				s.log.Error("the new plugin set was not applied; the running set is kept", "err", err)
			}
		case <-s.stopProp:
			return
		}
	}
}

// QuietPeriod is how long Propose waits before it applies a desired set:
// Config.QuietPeriod, or its default.
func (s *Supervisor) QuietPeriod() time.Duration { return s.cfg.QuietPeriod }

// Applies is how many times the desired set was applied.
func (s *Supervisor) Applies() int {
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	return s.applies
}

// Restart restarts the named instance now, whatever its state; a failed
// instance gets its restart budget back.
func (s *Supervisor) Restart(name string) error {
	in, err := s.lookup(name)
	if err != nil {
		return err
	}
	in.requestRestart()
	return nil
}

// Conn is a connection to the named instance that follows it across
// restarts: calls go to whichever incarnation is running. While none is,
// calls fail at once with tether.ErrUnavailable, or wait for one with
// grpc.WaitForReady(true).
func (s *Supervisor) Conn(name string) (*Conn, error) {
	in, err := s.lookup(name)
	if err != nil {
		return nil, err
	}
	return &Conn{in: in}, nil
}

// ReattachConfig is what another process needs to attach to the named
// instance's current incarnation (see tether.Attach); it holds key
// material when the instance uses automatic mutual TLS.
func (s *Supervisor) ReattachConfig(name string) (tether.ReattachConfig, error) {
	c, err := s.Client(name)
	if err != nil {
		return tether.ReattachConfig{}, err
	}
	if c == nil {
		in, _ := s.lookup(name)
		return tether.ReattachConfig{}, unavailable(name, in.status().State, nil)
	}
	return c.ReattachConfig()
}

// LogPath is the file where the named instance's stream ("stdout" or
// "stderr") is kept, rotated to LogPath.1, .2...; "" without a data
// directory.
func (s *Supervisor) LogPath(name, stream string) string {
	if s.cfg.Dir == "" {
		return ""
	}
	return filepath.Join(s.cfg.Dir, "logs", name+"."+stream+".log")
}

// spoolDir is the directory of an outliving instance's spool files,
// created owner-only; "" without a data directory (or if it cannot be
// made: the instance then prints to pipes).
func (s *Supervisor) spoolDir(name string) string {
	if s.cfg.Dir == "" {
		return ""
	}
	dir := filepath.Join(s.cfg.Dir, "spool", name)
	err := ownDir(filepath.Join(s.cfg.Dir, "spool"), false)
	if err == nil {
		err = ownDir(dir, false)
	}
	if err != nil {
		s.log.Warn("no spool directory: the plugin's output will not outlive this host", "instance", name, "err", err)
		return ""
	}
	return dir
}

// Client is the named instance's current incarnation, nil while it is not
// running.
func (s *Supervisor) Client(name string) (*tether.Client, error) {
	in, err := s.lookup(name)
	if err != nil {
		return nil, err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.client, nil
}

func (s *Supervisor) lookup(name string) (*instance, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	in, ok := s.instances[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNoInstance, name)
	}
	return in, nil
}

// Close stops every instance, except those whose spec says OutliveHost:
// they are left running, to be re-adopted by a later supervisor.
func (s *Supervisor) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	all := slices.Collect(maps.Values(s.instances))
	s.mu.Unlock()
	close(s.stopProp)
	<-s.propDone
	errs := make([]error, len(all))
	var wg sync.WaitGroup
	for i, in := range all {
		wg.Go(func() { errs[i] = in.halt(ctx, true) })
	}
	wg.Wait()
	if s.store != nil {
		s.store.close()
	}
	return errors.Join(errs...)
}

// report logs an event and passes it on.
func (s *Supervisor) report(e Event) {
	s.log.Log(context.Background(), e.level(), "plugin "+string(e.Kind), e.logAttrs()...)
	if s.cfg.OnEvent != nil {
		s.cfg.OnEvent(e)
	}
}

// changed is called whenever an instance's state changes.
func (s *Supervisor) changed() {
	if s.store != nil {
		s.store.mark()
	}
}

// optionsFor builds the tether options of one start.
func (s *Supervisor) optionsFor(sp Spec, logs *instanceLogs) []tether.Option {
	opts := s.attachOptions(sp)
	if sp.StartTimeout > 0 {
		opts = append(opts, tether.WithStartTimeout(sp.StartTimeout))
	}
	if t, _ := tether.ParseTarget(sp.Target); t.Scheme == "exec" {
		// Only a local process has output of its own to keep.
		opts = append(opts, logs.options()...)
		opts = append(opts, tether.WithArgs(sp.Args...), tether.WithEnv(sp.Env...))
		if sp.OutliveHost {
			opts = append(opts, tether.WithOutliveHost())
			if dir := s.spoolDir(sp.Name); dir != "" {
				// Its output outlives this host too, for the next to read on.
				opts = append(opts, tether.WithSpool(dir))
			}
		}
		if sp.AutoMTLS {
			opts = append(opts, tether.WithAutoMTLS())
		}
	}
	return append(opts, sp.Options...)
}
