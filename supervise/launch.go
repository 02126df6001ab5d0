package supervise

import (
	"os"
	"path/filepath"
	"strconv"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/proc"
)

// launched is a process started for an instance and not ready yet: what a
// later host needs to stop it, should this one die before it is ready.
type launched struct {
	Pid       int    `json:"pid"`
	StartTime uint64 `json:"start_time"`
	// SocketDir is the directory its socket was to be in, which it removes
	// when it exits gracefully: removed after it is stopped.
	SocketDir string `json:"socket_dir,omitempty"`
}

// removeSocketDir removes what a process stopped before it was ready may
// have left of its socket directory: its socket, then the directory if it
// is empty.
func (l *launched) removeSocketDir() {
	if l == nil || l.SocketDir == "" || !filepath.IsAbs(l.SocketDir) {
		return
	}
	_ = os.Remove(filepath.Join(l.SocketDir, "plugin-"+strconv.Itoa(l.Pid)+".sock"))
	_ = os.Remove(l.SocketDir)
}

// trackLaunch returns the options of a start of an outliving instance
// that record its process in in.launched as soon as it runs (before it is
// ready), and stop, which clears the record once the start is over.
// Instances that do not outlive their host die with it: nothing to track.
func (in *instance) trackLaunch() (opts []tether.Option, stop func()) {
	if !in.local || !in.spec.OutliveHost || in.sup.store == nil {
		return nil, func() {}
	}
	record := func(p tether.StartedProcess) {
		start, err := proc.StartTime(p.Pid)
		if err != nil {
			return // without its start time a later host could not tell it from a reused pid
		}
		in.setLaunched(&launched{Pid: p.Pid, StartTime: start, SocketDir: p.SocketDir})
	}
	return []tether.Option{tether.WithOnStart(record)}, func() { in.setLaunched(nil) }
}

// setLaunched records the process being started (nil: none) and has the
// state file say so.
func (in *instance) setLaunched(l *launched) {
	in.mu.Lock()
	changed := in.launched != l
	in.launched = l
	in.mu.Unlock()
	if changed {
		in.sup.changed()
	}
}
