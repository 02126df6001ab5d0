package supervise

import (
	"fmt"
	"log/slog"
	"time"
)

// EventKind is what happened to an instance.
type EventKind string

// The events of an instance's life.
const (
	Started    EventKind = "started"    // a process was launched (Pid set)
	Ready      EventKind = "ready"      // it answered Describe and takes calls
	Adopted    EventKind = "adopted"    // a process an earlier host started was taken over
	Unhealthy  EventKind = "unhealthy"  // health checks failed for the spec's timeout; it is restarted
	Exited     EventKind = "exited"     // the process ended (Exit set), or a start failed (Err set)
	Restarting EventKind = "restarting" // it will be started again after Delay
	Failed     EventKind = "failed"     // the restart budget is spent; left alone until Restart
	Stopped    EventKind = "stopped"    // stopped by the policy, Remove or Close
)

// Exit is how a process ended.
type Exit struct {
	Code   int    // exit status; -1 when a signal ended it or it is not known
	Signal string // the signal that ended it, if one did: SIGKILL, SIGTERM...
	// SignalNumber is Signal's number, 0 if no signal ended it.
	SignalNumber int
	// Known is false for a re-adopted process, whose status only its
	// parent could learn.
	Known bool
	// Stderr holds the last lines it printed on stderr.
	Stderr string
}

func (e Exit) String() string {
	switch {
	case !e.Known:
		return "exit status unknown (not this host's child)"
	case e.Signal != "":
		return "killed by " + e.Signal
	default:
		return fmt.Sprintf("exit status %d", e.Code)
	}
}

// StatusCode is the exit as a shell reports it: the exit status, or
// 128 plus the number of the signal that ended the process; false when
// the exit is not known.
func (e Exit) StatusCode() (int, bool) {
	switch {
	case !e.Known:
		return 0, false
	case e.SignalNumber > 0:
		return 128 + e.SignalNumber, true
	}
	return e.Code, true
}

// failed reports an exit the OnFailure policy restarts.
func (e Exit) failed() bool { return !e.Known || e.Code != 0 }

// Event is one step of an instance's life.
type Event struct {
	Time     time.Time
	Instance string
	Kind     EventKind
	Pid      int
	Exit     *Exit         // Exited
	Delay    time.Duration // Restarting
	Restarts int           // restarts so far
	Err      error         // why: a failed start, a failed health check
}

// logAttrs are the event's fields for a log record.
func (e Event) logAttrs() []any {
	attrs := []any{"instance", e.Instance, "event", string(e.Kind)}
	if e.Pid != 0 {
		attrs = append(attrs, "pid", e.Pid)
	}
	if e.Exit != nil {
		attrs = append(attrs, "exit", e.Exit.String())
		if e.Exit.Stderr != "" {
			attrs = append(attrs, "stderr", e.Exit.Stderr)
		}
	}
	if e.Kind == Restarting {
		// Seconds, not a time.Duration: JSON handlers write those as
		// integer nanoseconds.
		attrs = append(attrs, "delay_seconds", e.Delay.Round(time.Millisecond).Seconds(), "restarts", e.Restarts)
	}
	if e.Err != nil {
		attrs = append(attrs, "err", e.Err.Error())
	}
	return attrs
}

func (e Event) level() slog.Level {
	switch e.Kind {
	case Exited, Unhealthy, Restarting:
		return slog.LevelWarn
	case Failed:
		return slog.LevelError
	}
	return slog.LevelInfo
}
