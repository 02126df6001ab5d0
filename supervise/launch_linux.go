package supervise

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/tetherplug/tether"
)

// findLaunched is the process whose environment holds launchEnv=token:
// one of this process's children (from /proc/self/task/*/children), or,
// where the kernel does not list children, any process; and the socket
// directory its environment gives it.
func findLaunched(token string) (pid int, socketDir string, ok bool) {
	mark := []byte(launchEnv + "=" + token)
	for _, pid := range candidates() {
		env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
		if err != nil {
			continue
		}
		vars := bytes.Split(env, []byte{0})
		if !slices.ContainsFunc(vars, func(v []byte) bool { return bytes.Equal(v, mark) }) {
			continue
		}
		for _, v := range vars {
			if d, ok := bytes.CutPrefix(v, []byte(tether.EnvOwnSocketDir+"=")); ok {
				socketDir = string(d)
			}
		}
		return pid, socketDir, true
	}
	return 0, "", false
}

// candidates are the pids findLaunched looks at.
func candidates() []int {
	files, _ := filepath.Glob("/proc/self/task/*/children")
	var pids []int
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, s := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(s); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	if len(files) > 0 {
		return pids
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}
