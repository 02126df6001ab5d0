package netguard

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// logInterval is the least time between two lines of one message: a peer
// that makes the guard refuse a thousand connections a second costs a line
// every 10 s, which says how many it stands for.
const logInterval = 10 * time.Second

// rateLog logs each message at most once per logInterval, the first at
// once; a line after a quiet spell counts the ones it left out
// ("suppressed").
type rateLog struct {
	out *slog.Logger
	now func() time.Time

	mu    sync.Mutex
	state map[string]*rateState
}

type rateState struct {
	last       time.Time
	suppressed int
}

func newRateLog(log *slog.Logger) *rateLog {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &rateLog{out: log, now: time.Now, state: map[string]*rateState{}}
}

// log logs msg with args unless msg was logged less than logInterval ago.
func (r *rateLog) log(level slog.Level, msg string, args ...any) {
	r.mu.Lock()
	st, ok := r.state[msg]
	if !ok {
		st = &rateState{}
		r.state[msg] = st
	}
	now := r.now()
	if ok && now.Sub(st.last) < logInterval {
		st.suppressed++
		r.mu.Unlock()
		return
	}
	n := st.suppressed
	st.last, st.suppressed = now, 0
	r.mu.Unlock()
	if n > 0 {
		args = append(args, "suppressed", n)
	}
	r.out.Log(context.Background(), level, msg, args...)
}
