//go:build unix

package proc

import (
	"testing"
	"time"
)

// Nil Env is the host's environment.
func TestNilEnvInherits(t *testing.T) {
	t.Setenv("TETHER_PROC_TEST", "inherited")
	p := start(t, Spec{Path: script(t, t.TempDir(), "p", "echo \"$TETHER_PROC_TEST\"\n")})
	if l := mustHandshake(t, p); l != "inherited\n" {
		t.Errorf("child saw %q", l)
	}
	waitExited(t, p, 5*time.Second)
}
