package e2e_test

import (
	"os"
	"sync"
	"testing"
	"time"

	"github.com/tetherplug/tether"
)

// TestWithOnStartSeesEachProcessBeforeItIsReady: WithOnStart gets the
// process the exec runtime started (the one Pid reports once loaded) with
// its private socket directory, before Launch returns; and again for the
// replacement of a process that exits under WithRestart.
func TestWithOnStartSeesEachProcessBeforeItIsReady(t *testing.T) {
	var (
		mu      sync.Mutex
		started []tether.StartedProcess
	)
	c := launchEcho(t, "", tether.WithRestart(), tether.WithOnStart(func(p tether.StartedProcess) {
		mu.Lock()
		started = append(started, p)
		mu.Unlock()
	}))
	mu.Lock()
	first := append([]tether.StartedProcess(nil), started...)
	mu.Unlock()
	if len(first) != 1 || first[0].Pid != c.Pid() {
		t.Fatalf("WithOnStart saw %+v before Launch returned; want the one process, pid %d", first, c.Pid())
	}
	if info, err := os.Stat(first[0].SocketDir); err != nil || !info.IsDir() || info.Mode().Perm() != 0o700 {
		t.Errorf("socket directory %q: %v, %v; want a private directory", first[0].SocketDir, info, err)
	}
	p, err := os.FindProcess(first[0].Pid)
	if err != nil {
		t.Fatal(err)
	}
	_ = p.Kill()
	eventually(t, 20*time.Second, "the restarted process seen", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(started) == 2 && started[1].Pid != first[0].Pid && started[1].Pid > 0
	})
}
