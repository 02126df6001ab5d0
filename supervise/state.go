package supervise

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/statefile"
)

// stateVersion is the layout version of the state file.
const stateVersion = 1

// stateFile is what the data directory's state.json holds: enough to
// re-adopt the instances that outlive this host.
type stateFile struct {
	Version   int               `json:"version"`
	Instances map[string]record `json:"instances"`
}

// record is one instance in the state file.
type record struct {
	Hash     string `json:"hash"`
	Target   string `json:"target"`
	State    State  `json:"state"`
	Restarts int    `json:"restarts"`
	Outlive  bool   `json:"outlive_host,omitempty"`
	// Reattach is how to reach the running process (with its pid and start
	// time, and the key material of automatic mutual TLS); nil while none
	// runs.
	Reattach *tether.ReattachConfig `json:"reattach,omitempty"`
}

// store keeps the data directory up to date: the state file and the pid
// files, rewritten by one goroutine whenever the set changes.
type store struct {
	dir   string
	dirty chan struct{}
	stop  chan struct{}
	done  chan struct{}
	warn  func(msg string, args ...any)

	mu   sync.Mutex
	pids map[string]int // pid files written
}

// openStore creates the data directory (owner-only) and reads the state
// an earlier host left there. A corrupt state file is reported through
// warn and ignored: the supervisor starts clean.
func openStore(dir string, warn func(string, ...any)) (*store, map[string]record, error) {
	for _, d := range []string{dir, filepath.Join(dir, "run"), filepath.Join(dir, "logs")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, nil, fmt.Errorf("supervise: data directory: %w", err)
		}
		if err := os.Chmod(d, 0o700); err != nil { // an existing one too: it holds keys
			return nil, nil, fmt.Errorf("supervise: data directory: %w", err)
		}
	}
	st := &store{dir: dir, dirty: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
		warn: warn, pids: map[string]int{}}
	var f stateFile
	err := statefile.Read(st.path(), &f)
	var corrupt *statefile.CorruptError
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case errors.As(err, &corrupt):
		warn("the state file is corrupt; starting clean, re-adopting nothing", "file", corrupt.Path, "err", corrupt.Err)
	case err != nil:
		return nil, nil, fmt.Errorf("supervise: %w", err)
	case f.Version != stateVersion:
		warn("the state file has an unknown version; starting clean", "file", st.path(), "version", f.Version)
	default:
		return st, f.Instances, nil
	}
	return st, nil, nil
}

func (st *store) path() string { return filepath.Join(st.dir, "state.json") }

func (st *store) pidPath(name string) string { return filepath.Join(st.dir, "run", name+".pid") }

// run writes the state whenever marked dirty, until closed.
func (st *store) run(snap func() map[string]record) {
	defer close(st.done)
	for {
		select {
		case <-st.dirty:
			st.write(snap())
		case <-st.stop:
			st.write(snap())
			return
		}
	}
}

// mark asks for the state to be written.
func (st *store) mark() {
	select {
	case st.dirty <- struct{}{}:
	default:
	}
}

// close writes the state one last time.
func (st *store) close() {
	close(st.stop)
	<-st.done
}

// write stores the state file and brings the pid files in line with it.
func (st *store) write(recs map[string]record) {
	if err := statefile.Write(st.path(), stateFile{Version: stateVersion, Instances: recs}); err != nil {
		st.warn("could not write the state file", "err", err)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	for name, r := range recs {
		pid := 0
		if r.Reattach != nil {
			pid = r.Reattach.Pid
		}
		if pid == st.pids[name] {
			continue
		}
		if pid == 0 {
			_ = os.Remove(st.pidPath(name))
			delete(st.pids, name)
			continue
		}
		if err := os.WriteFile(st.pidPath(name), []byte(strconv.Itoa(pid)+"\n"), 0o600); err != nil {
			st.warn("could not write a pid file", "err", err)
			continue
		}
		st.pids[name] = pid
	}
	for name := range st.pids {
		if _, ok := recs[name]; !ok {
			_ = os.Remove(st.pidPath(name))
			delete(st.pids, name)
		}
	}
}
