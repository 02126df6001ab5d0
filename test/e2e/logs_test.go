package e2e_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/echov1"
)

// TestLogRelevelling: each line a plugin writes on stderr becomes a record
// of the host's logger with plugin=NAME: slog JSON and hclog JSON keep
// their level, message and attributes; plain lines are debug.
func TestLogRelevelling(t *testing.T) {
	t.Parallel()
	log, rec := newRecorder()
	c := launchEcho(t, "logs", tether.WithLogger(log.With("host", "h1")), tether.WithName("logger"))
	echo, _ := tether.Dispense(c, "echo", echov1.NewEchoClient)
	if _, err := echo.Unary(t.Context(), &echov1.Message{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "all three lines logged", func() bool {
		_, a := rec.find("slog line")
		_, b := rec.find("hclog line")
		_, c := rec.find("plain line")
		return a && b && c
	})

	cases := []struct {
		msg   string
		level slog.Level
		attrs map[string]string
	}{
		{"slog line", slog.LevelWarn, map[string]string{"count": "7", "who": "echo"}},
		{"hclog line", slog.LevelError, map[string]string{"module": "echo.sub", "path": "/x"}},
		{"plain line", slog.LevelDebug, nil},
	}
	for _, tc := range cases {
		r, _ := rec.find(tc.msg)
		if r.Msg != tc.msg || r.Level != tc.level {
			t.Errorf("%q logged as %q at %v, want %v", tc.msg, r.Msg, r.Level, tc.level)
		}
		if r.Attrs["plugin"] != "logger" || r.Attrs["host"] != "h1" {
			t.Errorf("%q lacks plugin=logger or the host logger's own attributes: %v", tc.msg, r.Attrs)
		}
		for k, v := range tc.attrs {
			if r.Attrs[k] != v {
				t.Errorf("%q: attribute %s = %q, want %q", tc.msg, k, r.Attrs[k], v)
			}
		}
		for _, k := range []string{"time", "level", "msg", "@timestamp", "@level", "@message"} {
			if _, ok := r.Attrs[k]; ok {
				t.Errorf("%q keeps the plugin's %q as an attribute", tc.msg, k)
			}
		}
	}
}

// TestWithStderrCopiesRawLines: WithStderr receives the plugin's stderr
// lines as printed, newline included, while the logger still gets them
// re-levelled.
func TestWithStderrCopiesRawLines(t *testing.T) {
	t.Parallel()
	log, rec := newRecorder()
	var raw syncBuffer
	c := launchEcho(t, "logs", tether.WithLogger(log), tether.WithStderr(&raw))
	echo, _ := tether.Dispense(c, "echo", echov1.NewEchoClient)
	if _, err := echo.Unary(t.Context(), &echov1.Message{}); err != nil {
		t.Fatal(err)
	}
	want := `"@message":"hclog line"`
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(raw.String(), "plain line\n") || !strings.Contains(raw.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("WithStderr got %q, want the raw hclog and plain lines", raw.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, ok := rec.find("plain line"); !ok {
		t.Error("the logger no longer gets the lines")
	}
}
