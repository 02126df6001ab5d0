package supervise

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

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
	// Launched is the process started and not ready yet (outliving
	// instances): a later host stops it, and starts the instance anew.
	Launched *launched `json:"launched,omitempty"`
}

// process is the pid and start time of the process r records, 0 if none.
func (r record) process() (pid int, start uint64) {
	switch {
	case r.Reattach != nil:
		return r.Reattach.Pid, r.Reattach.StartTime
	case r.Launched != nil:
		return r.Launched.Pid, r.Launched.StartTime
	}
	return 0, 0
}

// store keeps the data directory up to date: the state file and the pid
// files, rewritten by one goroutine whenever the set changes.
type store struct {
	dir   string
	dirty chan struct{}
	stop  chan struct{}
	done  chan struct{}
	warn  func(msg string, args ...any)

	writeMu sync.Mutex // one write at a time
	last    []byte     // what was last written, encoded

	mu   sync.Mutex
	pids map[string]int // pid files written
}

// openStore creates the data directory (owner-only) and reads the state
// an earlier host left there. A corrupt state file is reported through
// warn and ignored: the supervisor starts clean. A directory or state file
// of another user, or a state file that is not a regular file, is refused.
func openStore(dir string, warn func(string, ...any)) (*store, map[string]record, error) {
	for _, d := range []string{dir, filepath.Join(dir, "run"), filepath.Join(dir, "logs")} {
		if err := ownDir(d, d == dir); err != nil {
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

// refreshEvery is how often the state is looked at even if nothing
// changed: how far spooled output was read moves on by itself.
const refreshEvery = 5 * time.Second

// run writes the state whenever marked dirty, until closed.
func (st *store) run(snap func() map[string]record) {
	defer close(st.done)
	tick := time.NewTicker(refreshEvery)
	defer tick.Stop()
	for {
		select {
		case <-st.dirty:
		case <-tick.C:
		case <-st.stop:
			st.write(snap())
			return
		}
		st.write(snap())
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
	st.writeMu.Lock()
	defer st.writeMu.Unlock()
	f := stateFile{Version: stateVersion, Instances: recs}
	if b, err := json.Marshal(f); err == nil && bytes.Equal(b, st.last) {
		return // unchanged: no write, no fsync
	} else if err := statefile.Write(st.path(), f); err != nil {
		st.warn("could not write the state file", "err", err)
	} else {
		st.last = b
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	for name, r := range recs {
		pid, _ := r.process()
		if pid == st.pids[name] {
			continue
		}
		if pid == 0 {
			_ = os.Remove(st.pidPath(name))
			delete(st.pids, name)
			continue
		}
		if err := writePid(st.pidPath(name), pid); err != nil {
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

// ownDir makes sure dir is a directory of the process's user, owner-only
// (0700), creating it if missing. With follow (the data directory itself)
// it may be a symbolic link, and what is checked is the directory it leads
// to; the directories inside are never links.
func ownDir(dir string, follow bool) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	real := dir
	if follow {
		var err error
		if real, err = filepath.EvalSymlinks(dir); err != nil {
			return err
		}
	}
	if err := statefile.CheckDir(real); err != nil {
		return err
	}
	return os.Chmod(real, 0o700) // an existing one too: it holds keys
}

// writePid writes a pid file, never through a symbolic link.
func writePid(path string, pid int) error {
	f, err := statefile.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteString(strconv.Itoa(pid) + "\n")
	return errors.Join(err, f.Close())
}
