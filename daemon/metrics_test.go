package daemon_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/tetherplug/tether/daemon"
)

// TestMetricsAddress: a bare :PORT is loopback; a named host is kept; what
// is no HOST:PORT with a numeric port is refused, naming the value.
func TestMetricsAddress(t *testing.T) {
	for in, want := range map[string]string{
		":9090": "127.0.0.1:9090", "127.0.0.1:0": "127.0.0.1:0", "0.0.0.0:9090": "0.0.0.0:9090",
		"[::1]:9090": "[::1]:9090", "localhost:9090": "localhost:9090",
	} {
		if got, err := daemon.MetricsAddress(in); err != nil || got != want {
			t.Errorf("MetricsAddress(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"9090", "", "127.0.0.1", ":http", ":70000", ":-1", "a:b:c"} {
		if got, err := daemon.MetricsAddress(in); err == nil || !strings.Contains(err.Error(), `"`+in+`"`) {
			t.Errorf("MetricsAddress(%q) = %q, %v; want an error naming it", in, got, err)
		}
	}
}

// TestStartRefusesBadMetricsAddress: Start fails with ErrMetricsListen,
// before any plugin starts.
func TestStartRefusesBadMetricsAddress(t *testing.T) {
	_, err := startDaemonOpts(t, daemon.Options{MetricsAddr: "9090"})
	if !errors.Is(err, daemon.ErrMetricsListen) {
		t.Fatalf("Start with metrics address 9090: %v; want ErrMetricsListen", err)
	}
}
