package execruntime

import (
	"errors"
	"testing"
)

// TestErrorSaysWhatHappened: the text a host's log shows for a restart
// names the kind in words and the exit, never "failure of kind 5: ".
func TestErrorSaysWhatHappened(t *testing.T) {
	for _, tc := range []struct {
		err  *Error
		want string
	}{
		{&Error{Plugin: "echo", Kind: KindPluginExited, Exited: true, ExitCode: 3}, "plugin echo: plugin exited: exit status 3"},
		{&Error{Plugin: "echo", Kind: KindPluginExited, Exited: true, ExitCode: -1, Err: errors.New("signal: killed")},
			"plugin echo: plugin exited: signal: killed"},
		{&Error{Plugin: "x", Kind: KindNotPlugin, Detail: "it printed no handshake line"}, "plugin x: not a plugin: it printed no handshake line"},
		{&Error{Plugin: "x", Kind: Kind(42)}, "plugin x: kind 42"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}
