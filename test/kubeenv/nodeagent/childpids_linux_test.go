package nodeagent

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// childPids lists the live (non-zombie) children of this process that are containers of the
// agent with workDir.
func childPids(t *testing.T, workDir string) []int {
	t.Helper()
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var kids []int
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 2 || f[1] != strconv.Itoa(os.Getpid()) || f[0] == "Z" {
			continue
		}
		environ, _ := os.ReadFile(filepath.Join(filepath.Dir(p), "environ"))
		if strings.Contains(string(environ), "NODEAGENT_POD_ROOT="+workDir+"/") {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			kids = append(kids, pid)
		}
	}
	return kids
}
