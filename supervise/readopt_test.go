package supervise_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tetherplug/tether/internal/proc"
	"github.com/tetherplug/tether/supervise"
)

// recordedState is what the tests read of state.json.
type recordedState struct {
	Instances map[string]struct {
		State    string
		Reattach *struct{ Pid int }
		Launched *struct {
			Pid       int
			StartTime uint64 `json:"start_time"`
		}
	}
}

func readState(t *testing.T, dir string) recordedState {
	t.Helper()
	st, err := tryState(dir)
	if err != nil {
		t.Fatalf("state file: %v", err)
	}
	return st
}

func tryState(dir string) (recordedState, error) {
	var st recordedState
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err == nil {
		err = json.Unmarshal(b, &st)
	}
	return st, err
}

// outliving is echoSpec marked to outlive its host.
func outliving(t *testing.T, name string, env ...string) supervise.Spec {
	sp := echoSpec(t, name, env...)
	sp.OutliveHost = true
	return sp
}

// TestStateKeepsInstancesNotYetReadopted: while a new supervisor
// re-adopts outliving plugins one by one, the state file it writes still
// records those not re-adopted yet; a host killed then would otherwise
// forget them, and the next would start duplicates.
func TestStateKeepsInstancesNotYetReadopted(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	first, ev := newDurable(t, dir, nil)
	specs := []supervise.Spec{outliving(t, "a"), outliving(t, "b"), outliving(t, "c")}
	apply(t, first, specs...)
	pids := map[string]int{}
	for _, sp := range specs {
		pids[sp.Name] = ev.next(sp.Name, 10*time.Second, supervise.Ready).Pid
		reapAtEnd(t, pids[sp.Name])
	}
	closeSupervisor(t, first)

	var second *supervise.Supervisor
	var during *recordedState
	remove := supervise.SetBeforeReadopt(func(d, name string) {
		if d == dir && name == "b" { // a re-adopted, b and c not yet
			second.WriteState()
			st := readState(t, dir)
			during = &st
		}
	})
	defer remove()
	second, ev2 := newDurable(t, dir, nil)
	apply(t, second, specs...)
	if during == nil {
		t.Fatal("the re-adoption hook was not called")
	}
	for name, pid := range pids {
		if r := during.Instances[name]; r.Reattach == nil || r.Reattach.Pid != pid {
			t.Errorf("state file in the middle of re-adoption: %s recorded %+v, want its process %d", name, r, pid)
		}
	}
	for name, pid := range pids {
		if got := ev2.next(name, 10*time.Second, supervise.Adopted, supervise.Started).Pid; got != pid {
			t.Errorf("%s: pid %d, want %d re-adopted", name, got, pid)
		}
	}
}

// TestStartingProcessIsRecorded: an outliving process is recorded (pid,
// start time, pid file) as soon as it is started, before it is ready; a
// later host finding it so recorded stops it (it was not ready, cannot be
// re-adopted) and starts the instance anew, instead of leaving it running
// unmanaged beside a duplicate.
func TestStartingProcessIsRecorded(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	first, _ := newDurable(t, dir, nil)
	sp := outliving(t, "slow", "ECHO_MODE=hang") // never ready
	sp.StartTimeout = time.Minute
	apply(t, first, sp)
	pid := 0
	eventually(t, 5*time.Second, "the starting process in the state file", func() bool {
		st, err := tryState(dir)
		l := st.Instances["slow"].Launched
		if err != nil || l == nil {
			return false
		}
		start, err := proc.StartTime(l.Pid)
		pid = l.Pid
		return err == nil && start == l.StartTime
	})
	reapAtEnd(t, pid)
	eventually(t, 5*time.Second, "the pid file written", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "run", "slow.pid"))
		return strings.TrimSpace(string(b)) == strconv.Itoa(pid)
	})

	// A later host (its data directory a copy of this state).
	dir2 := filepath.Join(t.TempDir(), "data")
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err == nil {
		err = os.MkdirAll(dir2, 0o700)
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(dir2, "state.json"), b, 0o600)
	}
	if err != nil {
		t.Fatal(err)
	}
	second, _ := newDurable(t, dir2, nil)
	apply(t, second, sp)
	eventually(t, 10*time.Second, "the process recorded as starting stopped", func() bool {
		st, err := proc.ReadStat(pid)
		return err != nil || st.Exited()
	})
}
