package bench

import (
	"bytes"
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tetherplug/tether/internal/pb/echov1"
)

// TestSidesEchoAndStop checks that each side serves Echo from its own
// process and that Close leaves no process or goroutine behind: a benchmark that leaked
// would skew the ones after it.
func TestSidesEchoAndStop(t *testing.T) {
	for _, side := range bothSides(t) {
		t.Run(side.Name(), func(t *testing.T) {
			defer goleak.VerifyNone(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			inst, err := side.Start(ctx)
			if err != nil {
				t.Fatal(err)
			}
			payload := []byte("sixty-four bytes or so")
			resp, err := inst.Echo.Unary(ctx, &echov1.Message{Payload: payload})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(resp.GetPayload(), payload) {
				t.Errorf("echo returned %q, want %q", resp.GetPayload(), payload)
			}
			if err := inst.Close(); err != nil {
				t.Fatal(err)
			}
			if err := syscall.Kill(inst.Pid, 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("server process %d still exists after Close (kill 0: %v)", inst.Pid, err)
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	ds := []time.Duration{5, 1, 4, 2, 3, 100, 6, 7, 8, 9}
	if got := percentile(ds, 0.5); got != 5 {
		t.Errorf("p50 = %v, want 5", got)
	}
	if got := percentile(ds, 0.99); got != 9 {
		t.Errorf("p99 of 10 = %v, want 9 (the 9th of 10)", got)
	}
	if got := percentile(nil, 0.5); got != 0 {
		t.Errorf("p50 of nothing = %v, want 0", got)
	}
	if ds[0] != 5 {
		t.Error("percentile reordered its argument")
	}
}
