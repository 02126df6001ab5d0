package supervise_test

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tetherplug/tether/supervise"
)

// TestEventLogSaysSeconds: the restart delay in a JSON log record is
// seconds under a key that says so (delay_seconds: 0.05), not a
// time.Duration, which JSON handlers write as integer nanoseconds.
func TestEventLogSaysSeconds(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	s, ev := newDurable(t, t.TempDir(), slog.New(slog.NewJSONHandler(&logs, nil)))
	spec := echoSpec(t, "bad", "ECHO_MODE=exit3")
	spec.Backoff.Jitter = 0.01
	apply(t, s, spec)
	ev.next("bad", 10*time.Second, supervise.Restarting)
	var rec map[string]any
	eventually(t, 5*time.Second, "a restarting record in the log", func() bool {
		for _, line := range strings.Split(logs.String(), "\n") {
			if json.Unmarshal([]byte(line), &rec) == nil && rec["event"] == "restarting" {
				return true
			}
		}
		return false
	})
	if d, ok := rec["delay_seconds"].(float64); !ok || d < 0.04 || d > 0.06 {
		t.Errorf("restarting record %v: want delay_seconds about 0.05", rec)
	}
	if _, ok := rec["delay"]; ok {
		t.Errorf("restarting record %v has a delay in nanoseconds", rec)
	}
}
