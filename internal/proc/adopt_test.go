package proc

import (
	"errors"
	"os"
	"testing"
)

func TestStartTimeMissing(t *testing.T) {
	t.Parallel()
	if _, err := StartTime(1 << 30); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("StartTime of a missing pid = %v", err)
	}
}

func TestAdoptGone(t *testing.T) {
	t.Parallel()
	if _, err := Adopt(1<<30, 1); !errors.Is(err, ErrProcessGone) {
		t.Errorf("Adopt of a missing pid = %v, want ErrProcessGone", err)
	}
}
