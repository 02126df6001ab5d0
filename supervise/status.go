package supervise

import (
	"maps"
	"slices"
	"strings"
	"time"
)

// Status is what a supervisor knows of one instance.
type Status struct {
	Name     string         `json:"name"`
	Target   string         `json:"target"`
	State    State          `json:"state"`
	Pid      int            `json:"pid,omitempty"`
	Restarts int            `json:"restarts"` // under the restart policy, after an exit or a failed health check; not Restart
	Since    time.Time      `json:"since"`    // when the state began: the uptime's start while running
	Adopted  bool           `json:"adopted,omitempty"`
	LastExit *Exit          `json:"last_exit,omitempty"`
	LastErr  string         `json:"last_error,omitempty"`
	Endpoint string         `json:"endpoint,omitempty"`
	Versions map[string]int `json:"versions,omitempty"`
	// LogFailure is set while its output cannot be written to its log
	// files.
	LogFailure *LogFailure `json:"log_failure,omitempty"`
}

// Status reports every instance, sorted by name.
func (s *Supervisor) Status() []Status {
	s.mu.Lock()
	all := slices.Collect(maps.Values(s.instances))
	s.mu.Unlock()
	out := make([]Status, 0, len(all))
	for _, in := range all {
		out = append(out, in.status())
	}
	slices.SortFunc(out, func(a, b Status) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (in *instance) status() Status {
	in.mu.Lock()
	defer in.mu.Unlock()
	st := Status{Name: in.spec.Name, Target: in.spec.Target, State: in.state, Restarts: in.restarts,
		Since: in.since, Adopted: in.adopted, LastExit: in.lastExit, LogFailure: in.logs.failure()}
	if in.lastErr != nil {
		st.LastErr = in.lastErr.Error()
	}
	if c := in.client; c != nil {
		st.Pid, st.Versions = in.pid, c.Interfaces()
		if is := c.Instances(); len(is) > 0 {
			st.Endpoint = is[0].Network + ":" + is[0].Address
		}
	}
	return st
}
