package tether_test

import (
	"sync/atomic"
	"testing"

	"github.com/tetherplug/tether/internal/plugintest"
	"github.com/tetherplug/tether/internal/plugintest/inproc"
	"github.com/tetherplug/tether/tethertest"
)

// The root package's tests are unit tests of the host and plugin sides,
// most of them in-process (see inprocess_test.go); the process-level
// end-to-end tests are in test/e2e.

// TestMain removes the test plugins after the run and fails it if any
// goroutine outlives the tests: every Client must be closed without leaks.
func TestMain(m *testing.M) { tethertest.Main(m) }

// echoPath builds the echo test plugin once per test binary.
func echoPath(t testing.TB) string { return tethertest.Build(t, plugintest.EchoPlugin) }

// markSeq numbers the TETHER_TEST_MARK values that tag test processes.
var markSeq atomic.Int64

// noProcessLeft fails the test if a process tagged with mark exists.
func noProcessLeft(t *testing.T, mark string) {
	t.Helper()
	if pids := plugintest.MarkedProcesses(mark); len(pids) > 0 {
		t.Errorf("processes left behind: %v", pids)
	}
}

// eventually is plugintest.Eventually.
var eventually = plugintest.Eventually

// syncBuffer is plugintest.SyncBuffer.
type syncBuffer = plugintest.SyncBuffer

// registerStatic is inproc.Register.
var registerStatic = inproc.Register

// listenProxy is plugintest.ListenProxy.
var listenProxy = plugintest.ListenProxy
