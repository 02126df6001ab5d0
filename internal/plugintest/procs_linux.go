package plugintest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Exited reports whether process pid has exited: it is gone, or a zombie
// waiting for a parent that is not this test to reap it.
func Exited(pid int) bool {
	if Reaped(pid) {
		return true
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// pid (comm) state ...: comm may contain spaces, the state follows the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	return i > 0 && len(stat) > i+2 && stat[i+2] == 'Z'
}

// MarkedProcesses lists running processes whose environment carries
// TETHER_TEST_MARK=mark. (A zombie has no environment left; Reaped checks
// that a known pid was waited for.)
func MarkedProcesses(mark string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err == nil && slices.Contains(strings.Split(string(env), "\x00"), "TETHER_TEST_MARK="+mark) {
			pids = append(pids, pid)
		}
	}
	return pids
}
