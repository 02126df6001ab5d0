//go:build linux

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
)

// TestRunKilledWhileStartingLeavesNoDuplicate: `tether run` is killed
// while an outliving plugin is started and not ready yet. The state file
// recorded that process as soon as it ran, so the next `tether run` stops
// it before starting the plugin anew: one process for the one instance,
// not one running unmanaged beside its duplicate.
func TestRunKilledWhileStartingLeavesNoDuplicate(t *testing.T) {
	d := startDaemon(t, echoPlugin(t, "slow", "    outlive: true\n    start_timeout: 1m\n    env: {ECHO_MODE: hang}\n"))
	stateFile := filepath.Join(filepath.Dir(d.manifest), "state", "state.json")
	var pid int
	waitFor(t, func() bool {
		var st struct {
			Instances map[string]struct{ Launched *struct{ Pid int } }
		}
		b, err := os.ReadFile(stateFile)
		if err != nil || json.Unmarshal(b, &st) != nil || st.Instances["slow"].Launched == nil {
			return false
		}
		pid = st.Instances["slow"].Launched.Pid
		return true
	})
	d.kill9()
	if syscall.Kill(pid, 0) != nil {
		t.Fatal("the starting plugin marked to outlive its host died with it")
	}
	plugins := func(daemon int) []string {
		return slices.DeleteFunc(marked(t, d.mark), func(p string) bool { return p == strconv.Itoa(daemon) })
	}
	d2 := d.again()
	waitFor(t, func() bool {
		ps := plugins(d2.cmd.Process.Pid)
		return len(ps) == 1 && ps[0] != strconv.Itoa(pid)
	})
}
