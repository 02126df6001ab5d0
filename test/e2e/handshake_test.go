package e2e_test

import (
	"bytes"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/tetherplug/tether"
)

// TestPluginRefusesWithoutCookie: run by hand, a plugin prints a message
// for humans on stderr, nothing on stdout, and exits 1.
func TestPluginRefusesWithoutCookie(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(echoPath(t))
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Errorf("plugin run without its cookie: %v, want exit status 1", err)
	}
	if stdout.Len() != 0 {
		t.Errorf("it printed %q on stdout", stdout.String())
	}
	if !strings.Contains(stderr.String(), "This binary is a plugin") || !strings.Contains(stderr.String(), tether.DefaultMagicCookieKey) {
		t.Errorf("stderr = %q, want the plugin message naming the cookie variable", stderr.String())
	}
}
