package supervise

import (
	"math/rand/v2"
	"time"
)

// restarts tracks one instance's restart delays and budget.
type restarts struct {
	b      Backoff
	budget Budget
	next   time.Duration // the undithered delay before the next restart
	recent []time.Time   // restart times within the budget's window
}

func newRestarts(b Backoff, budget Budget) *restarts {
	return &restarts{b: b, budget: budget, next: b.Initial}
}

// ranFor resets the delay after a run that lasted ResetAfter or more.
func (r *restarts) ranFor(d time.Duration) {
	if d >= r.b.ResetAfter {
		r.next = r.b.Initial
	}
}

// take records a restart at now and returns its delay, or ok false when
// the budget is spent: more than Restarts restarts within Within.
func (r *restarts) take(now time.Time) (delay time.Duration, ok bool) {
	cut := now.Add(-r.budget.Within)
	kept := r.recent[:0]
	for _, t := range r.recent {
		if t.After(cut) {
			kept = append(kept, t)
		}
	}
	r.recent = kept
	if len(r.recent) >= r.budget.Restarts {
		return 0, false
	}
	r.recent = append(r.recent, now)
	delay = r.next
	if r.b.Jitter > 0 && delay > 0 {
		delay += time.Duration((rand.Float64()*2 - 1) * r.b.Jitter * float64(delay))
	}
	r.next = min(time.Duration(float64(r.next)*r.b.Multiplier), r.b.Max)
	return delay, true
}

// reset forgets past restarts: after Supervisor.Restart.
func (r *restarts) reset() {
	r.next, r.recent = r.b.Initial, nil
}
