package supervise

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/proc"
)

// launchEnv is the variable that marks each process the supervisor starts
// for an outliving instance, with a value of its own: the process is found
// by it among the supervisor's children (see findLaunched) as soon as it
// runs, before it is ready, and recorded in the state file.
const launchEnv = "TETHER_SUPERVISE_LAUNCH"

// launchPoll is how often a start looks for its process until found.
const launchPoll = 10 * time.Millisecond

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

// trackLaunch marks the start an outliving instance is about to make
// (options to add to it) and looks for its process until stop is called,
// recording it in in.launched meanwhile; stop clears it. Instances that
// do not outlive their host die with it: nothing to track.
func (in *instance) trackLaunch() (opts []tether.Option, stop func()) {
	if !in.local || !in.spec.OutliveHost || in.sup.store == nil {
		return nil, func() {}
	}
	token := rand.Text()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(launchPoll)
		defer tick.Stop()
		for {
			if pid, dir, ok := findLaunched(token); ok {
				if start, err := proc.StartTime(pid); err == nil {
					in.setLaunched(&launched{Pid: pid, StartTime: start, SocketDir: dir})
					return
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return []tether.Option{tether.WithEnv(launchEnv + "=" + token)}, func() {
		cancel()
		<-done
		in.setLaunched(nil)
	}
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
