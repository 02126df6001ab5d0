package fastrpc

import "sync/atomic"

// maxIdleWorkers bounds the goroutines a Server keeps waiting for calls.
const maxIdleWorkers = 64

// workers runs calls on goroutines that outlive one call: a fresh goroutine
// per call pays for growing its stack on every call, which measured about a
// tenth of the server's CPU time under 16 callers.
type workers struct {
	jobs chan func() // unbuffered: a send succeeds only if a worker is idle
	quit chan struct{}
	idle atomic.Int32
}

func newWorkers() *workers {
	return &workers{jobs: make(chan func()), quit: make(chan struct{})}
}

// run hands job to an idle worker or starts one.
func (w *workers) run(job func()) {
	select {
	case w.jobs <- job:
	default:
		go w.loop(job)
	}
}

func (w *workers) loop(job func()) {
	for {
		job()
		if w.idle.Add(1) > maxIdleWorkers {
			w.idle.Add(-1)
			return
		}
		select {
		case job = <-w.jobs:
			w.idle.Add(-1)
		case <-w.quit:
			w.idle.Add(-1)
			return
		}
	}
}

// stop ends the idle workers; busy ones end after their call.
func (w *workers) stop() { close(w.quit) }
