package supervise

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/proc"
)

// adoptTimeout bounds the handshake with a process being re-adopted.
const adoptTimeout = 5 * time.Second

// adopt takes over the process an earlier host recorded for spec, if it is
// the very process recorded (pid alive, same start time) and answers
// Describe with the same interfaces. When it is not, it is never
// signalled; the caller starts the instance anew.
func (s *Supervisor) adopt(spec Spec, rec record, logs *instanceLogs) (*tether.Client, *proc.Adopted, error) {
	rc := rec.Reattach
	if rc == nil || rc.Pid <= 0 {
		return nil, nil, errors.New("no running process recorded")
	}
	a, err := proc.Adopt(rc.Pid, rc.StartTime)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), adoptTimeout)
	defer cancel()
	c, err := tether.Attach(ctx, *rc, append(append(s.attachOptions(spec), logs.options()...), spec.Options...)...)
	if err != nil {
		a.Release()
		return nil, nil, fmt.Errorf("pid %d did not answer as the instance: %w", rc.Pid, err)
	}
	return c, a, nil
}

// stopRecorded stops a process an earlier host started for an instance
// and that is not re-adopted (why says why), once it is sure that process
// is that one: pid and start time are checked through the OS's handle on it (proc.Adopt), so no other
// process can be signalled.
func (s *Supervisor) stopRecorded(name string, rec record, why string) {
	pid, start := rec.process()
	if pid <= 0 {
		return
	}
	a, err := proc.Adopt(pid, start)
	if err != nil {
		return // gone, or another process now: nothing to stop
	}
	defer a.Release()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Terminate(ctx, 2*time.Second); err != nil {
		s.log.Warn("could not stop a plugin an earlier host started", "instance", name, "pid", pid, "err", err)
		return
	}
	if rec.Reattach == nil {
		rec.Launched.removeSocketDir()
	}
	s.log.Info("stopped a plugin an earlier host started: "+why, "instance", name, "pid", pid)
}

// attachOptions are the tether options of a re-adoption.
func (s *Supervisor) attachOptions(sp Spec) []tether.Option {
	opts := []tether.Option{tether.WithName(sp.Name), tether.WithLogger(s.log.With("instance", sp.Name))}
	for _, w := range sp.Interfaces {
		opts = append(opts, tether.WithInterface(w.Interface, w.Versions...))
	}
	return opts
}
