package execruntime

import (
	"io"
	"sync"
	"sync/atomic"

	"github.com/tetherplug/tether/internal/logfwd"
	"github.com/tetherplug/tether/internal/proc"
	"github.com/tetherplug/tether/internal/spool"
)

// ReattachSpool is where a plugin launched WithSpool prints, and how far
// the host that made the config had passed its output on. A host that
// attaches goes on from there: a line may be seen twice across the change
// of host, none is lost.
type ReattachSpool struct {
	Stdout       string `json:"stdout"`
	Stderr       string `json:"stderr"`
	StdoutOffset int64  `json:"stdout_offset"`
	StderrOffset int64  `json:"stderr_offset"`
}

// spoolConfig is the spool part of a launched instance's reattach config.
func (i *Instance) spoolConfig() *ReattachSpool {
	if i.spool == nil {
		return nil
	}
	out, errOff := i.p.SpoolOffsets()
	return &ReattachSpool{Stdout: i.spool.Stdout, Stderr: i.spool.Stderr, StdoutOffset: out, StderrOffset: errOff}
}

// spoolReader follows an attached plugin's spool files: its stderr is
// re-levelled into the host's logger (and Config.Stderr), its stdout goes to
// Config.Stdout or the logger, as for a launched plugin.
type spoolReader struct {
	out, err       *spool.Follower
	outOff, errOff atomic.Int64
	fwd            *logfwd.Forwarder
	wg             sync.WaitGroup
}

func followSpool(sp *ReattachSpool, env Env, out Config) *spoolReader {
	r := &spoolReader{out: spool.Follow(sp.Stdout, sp.StdoutOffset), err: spool.Follow(sp.Stderr, sp.StderrOffset),
		fwd: logfwd.New(env.Logger.With("plugin", env.Name), 20)}
	r.outOff.Store(sp.StdoutOffset)
	r.errOff.Store(sp.StderrOffset)
	stdout := stdoutLine(env, out.Stdout)
	r.wg.Go(func() { proc.ForwardLines(r.out, counted(&r.outOff, stdout)) })
	r.wg.Go(func() {
		proc.ForwardLines(r.err, counted(&r.errOff, func(line string) {
			r.fwd.Line(line)
			if out.Stderr != nil {
				_, _ = io.WriteString(out.Stderr, line)
			}
		}))
	})
	return r
}

// counted advances off past each line once it has been passed on.
func counted(off *atomic.Int64, line func(string)) func(string) {
	return func(s string) {
		line(s)
		off.Add(int64(len(s)))
	}
}

// offsets updates sp with how far this host has passed the output on.
func (r *spoolReader) offsets(sp *ReattachSpool) {
	if r != nil && sp != nil {
		sp.StdoutOffset, sp.StderrOffset = r.outOff.Load(), r.errOff.Load()
	}
}

// drain reads what the ended plugin left, then stops.
func (r *spoolReader) drain() {
	r.out.Drain()
	r.err.Drain()
	r.wg.Wait()
}

// stop stops at once.
func (r *spoolReader) stop() {
	r.out.Stop()
	r.err.Stop()
	r.wg.Wait()
}
