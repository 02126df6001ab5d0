package supervise

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"time"

	"github.com/tetherplug/tether"
)

// Policy says when an instance that exited is started again.
type Policy string

const (
	// Always restarts an instance whatever its exit.
	Always Policy = "always"
	// OnFailure restarts an instance that exited with a non-zero status,
	// was killed by a signal, or was restarted for failing health checks;
	// one that exited with status 0 stays stopped.
	OnFailure Policy = "on-failure"
	// Never leaves an exited instance stopped.
	Never Policy = "never"
)

// Backoff is the delay before each restart: Initial, multiplied by
// Multiplier after each restart up to Max, each delay varied at random by
// up to ±Jitter of itself. It resets to Initial once an instance has run
// for ResetAfter.
type Backoff struct {
	Initial, Max time.Duration
	Multiplier   float64
	Jitter       float64
	ResetAfter   time.Duration
}

// Budget bounds restarts: more than Restarts within Within and the instance
// is failed, left alone until Supervisor.Restart.
type Budget struct {
	Restarts int
	Within   time.Duration
}

// Health is the periodic health check of a running instance: every
// Interval the supervisor asks its grpc.health.v1 service; an instance
// that has not answered SERVING for Timeout is restarted.
type Health struct {
	Interval, Timeout time.Duration
}

// Spec is one instance the supervisor keeps running.
type Spec struct {
	// Name identifies the instance: letters, digits, '.', '_' and '-'.
	Name string `json:"name"`
	// Target is the plugin: a local program's path (launched and
	// restarted) or a network target such as tcp://h:7000 (only watched:
	// its health is checked and reported, nothing is restarted).
	Target string   `json:"target"`
	Args   []string `json:"args,omitempty"`
	Env    []string `json:"env,omitempty"`
	// Interfaces are the interfaces and versions asked for, as
	// tether.WithInterface takes them.
	Interfaces []tether.Want `json:"interfaces,omitempty"`
	Restart    Policy        `json:"restart,omitempty"`
	Backoff    Backoff       `json:"backoff"`
	Budget     Budget        `json:"budget"`
	Health     Health        `json:"health"`
	// OutliveHost keeps the instance running when the supervisor's process
	// dies or closes; a later supervisor with the same data directory
	// re-adopts it.
	OutliveHost bool `json:"outlive_host,omitempty"`
	// AutoMTLS secures the connection to a local instance with one-time
	// certificates (tether.WithAutoMTLS); their keys are kept, owner-only,
	// in the state file so that a later host can reconnect.
	AutoMTLS bool `json:"auto_mtls,omitempty"`
	// StartTimeout bounds each start; 0 means tether's default.
	StartTimeout time.Duration `json:"start_timeout,omitempty"`

	// Options are more tether options for every start (a logger of its
	// own, TLS for network targets...). They are not part of Hash: a
	// change of options alone does not restart the instance.
	Options []tether.Option `json:"-"`
}

// Defaults of Spec's zero fields.
var (
	DefaultBackoff = Backoff{Initial: 100 * time.Millisecond, Max: 30 * time.Second,
		Multiplier: 2, Jitter: 0.2, ResetAfter: time.Minute}
	DefaultBudget = Budget{Restarts: 5, Within: time.Minute}
	DefaultHealth = Health{Interval: 10 * time.Second, Timeout: 30 * time.Second}
)

var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// withDefaults fills zero fields and checks the spec.
func (s Spec) withDefaults() (Spec, error) {
	if !validName.MatchString(s.Name) {
		return s, fmt.Errorf("supervise: instance name %q: want 1 to 63 letters, digits, '.', '_' or '-'", s.Name)
	}
	if s.Target == "" {
		return s, fmt.Errorf("supervise: instance %s: no target", s.Name)
	}
	switch s.Restart {
	case "":
		s.Restart = OnFailure
	case Always, OnFailure, Never:
	default:
		return s, fmt.Errorf("supervise: instance %s: restart policy %q: want always, on-failure or never", s.Name, s.Restart)
	}
	b, d := &s.Backoff, DefaultBackoff
	b.Initial, b.Max, b.ResetAfter = orDur(b.Initial, d.Initial), orDur(b.Max, d.Max), orDur(b.ResetAfter, d.ResetAfter)
	if b.Multiplier == 0 {
		b.Multiplier = d.Multiplier
	}
	if b.Jitter == 0 {
		b.Jitter = d.Jitter
	}
	if b.Initial < 0 || b.Max < b.Initial || b.Multiplier < 1 || b.Jitter < 0 || b.Jitter >= 1 {
		return s, fmt.Errorf("supervise: instance %s: backoff %+v: want 0 <= initial <= max, multiplier >= 1, 0 <= jitter < 1", s.Name, *b)
	}
	if s.Budget.Restarts == 0 {
		s.Budget.Restarts = DefaultBudget.Restarts
	}
	s.Budget.Within = orDur(s.Budget.Within, DefaultBudget.Within)
	s.Health.Interval = orDur(s.Health.Interval, DefaultHealth.Interval)
	s.Health.Timeout = orDur(s.Health.Timeout, DefaultHealth.Timeout)
	if s.Budget.Restarts < 0 || s.Health.Interval < 0 || s.Health.Timeout < s.Health.Interval {
		return s, fmt.Errorf("supervise: instance %s: budget %+v, health %+v: want positive values, timeout >= interval",
			s.Name, s.Budget, s.Health)
	}
	return s, nil
}

func orDur(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// Hash identifies what the spec starts: two specs with the same hash start
// the same instance, so applying one over the other restarts nothing.
func (s Spec) Hash() string {
	b, _ := json.Marshal(s) // Options are left out
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}
