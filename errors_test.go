package tether_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/tetherplug/tether"
)

func TestPluginErrorMessage(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{&tether.PluginError{Plugin: "true", Kind: tether.ErrNotPlugin, Detail: "it exited without printing a handshake line", Exited: true, ExitCode: 0},
			"plugin true: not a plugin: it exited without printing a handshake line (exit status 0); it printed nothing"},
		{&tether.PluginError{Plugin: "README.md", Kind: tether.ErrNotPlugin, Detail: "could not start it", Err: os.ErrPermission},
			"plugin README.md: not a plugin: could not start it: permission denied"},
		{&tether.PluginError{Plugin: "p", Kind: tether.ErrPluginExited, Exited: true, ExitCode: 2, Output: "panic: x\n\ngoroutine 1"},
			`plugin p: plugin exited (exit status 2); it printed: "panic: x\n\ngoroutine 1"`},
		// An error that leaves the exit unset never claims "exit status 0".
		{&tether.PluginError{Plugin: "p", Kind: tether.ErrPluginExited, Detail: "during call /x.Y/Z"},
			"plugin p: plugin exited: during call /x.Y/Z"},
		{&tether.PluginError{Plugin: "p", Kind: tether.ErrNotPlugin, Output: strings.Repeat("x", 600)},
			`plugin p: not a plugin; it printed: "` + strings.Repeat("x", 512) + `…"`},
		{&tether.VersionError{Plugin: "p", HostVersions: []int{1, 2}, PluginVersions: []int{3}},
			"plugin p: incompatible versions: protocol: host accepts versions [1 2], plugin serves [3]"},
	}
	for _, tc := range cases {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %s\nwant      %s", got, tc.want)
		}
	}
	wrapped := fmt.Errorf("loading: %w", &tether.PluginError{Kind: tether.ErrWrongCookie, Err: os.ErrNotExist})
	if !errors.Is(wrapped, tether.ErrWrongCookie) || !errors.Is(wrapped, os.ErrNotExist) || errors.Is(wrapped, tether.ErrNotPlugin) {
		t.Error("errors.Is does not see through a wrapped PluginError to its Kind and cause")
	}
}

// TestQuoteKeepsPanicLine: however Output is ordered and however long its
// panic line, the message quotes that line whole.
func TestQuoteKeepsPanicLine(t *testing.T) {
	logs := strings.Repeat(`{"level":"INFO","msg":"working"}`+"\n", 20) // 660 bytes
	long := "panic: " + strings.Repeat("é", 400)                        // 807 bytes
	cases := []struct{ name, output, panicLine string }{
		{"after 660 bytes of logs", logs + "panic: boom\n\ngoroutine 1 [running]:", "panic: boom"},
		{"fatal error after logs", logs + "fatal error: concurrent map writes", "fatal error: concurrent map writes"},
		{"long panic line first", long + "\ngoroutine 1", long},
		{"long panic line after logs", logs + long, long},
	}
	for _, tc := range cases {
		pe := &tether.PluginError{Plugin: "p", Kind: tether.ErrPluginExited, Output: tc.output}
		msg := pe.Error()
		if !strings.Contains(msg, strconvQuoteBody(tc.panicLine)) {
			t.Errorf("%s: message %q does not quote the panic line whole", tc.name, msg)
		}
		if len(msg) > 2*len(tc.panicLine)+700 {
			t.Errorf("%s: message of %d bytes, want the quote bounded", tc.name, len(msg))
		}
	}
}

// strconvQuoteBody is s as %q writes it, without the quotes.
func strconvQuoteBody(s string) string {
	q := fmt.Sprintf("%q", s)
	return q[1 : len(q)-1]
}
