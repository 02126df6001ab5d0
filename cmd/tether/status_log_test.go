package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tetherplug/tether/internal/pb/tetherv1"
)

// TestStatusShowsFailingLogWrites: a plugin whose output cannot be written
// to its log files gets a line in `tether status` saying since when and
// how many lines were dropped, and fields in --json.
func TestStatusShowsFailingLogWrites(t *testing.T) {
	since := time.Date(2026, 12, 6, 18, 0, 0, 0, time.UTC)
	resp := &tetherv1.StatusResponse{Instances: []*tetherv1.InstanceStatus{
		{Name: "ok", State: "running"},
		{Name: "greeter", State: "running", LogError: "log /d/logs/greeter.stderr.log: write: no space left on device",
			LogFailingSinceUnixNano: since.UnixNano(), LogLinesDropped: 1234},
	}}
	var table bytes.Buffer
	if err := printStatusTable(&table, resp); err != nil {
		t.Fatal(err)
	}
	want := "greeter: log writes failing since 2026-12-06 18:00:00 UTC ("
	tail := " ago), 1234 lines dropped: log /d/logs/greeter.stderr.log: write: no space left on device\n"
	if !strings.Contains(table.String(), want) || !strings.Contains(table.String(), tail) || strings.Contains(table.String(), "ok: log") {
		t.Errorf("status table:\n%s\nwant a line %q...%q for greeter only", table.String(), want, tail)
	}
	var js bytes.Buffer
	if err := printStatusJSON(&js, resp); err != nil {
		t.Fatal(err)
	}
	var out struct {
		Plugins []struct {
			Name            string
			LogError        string     `json:"log_error"`
			LogFailingSince *time.Time `json:"log_failing_since"`
			LogLinesDropped int64      `json:"log_lines_dropped"`
		}
	}
	if err := json.Unmarshal(js.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	g := out.Plugins[1]
	if g.LogError == "" || g.LogFailingSince == nil || !g.LogFailingSince.Equal(since) || g.LogLinesDropped != 1234 || out.Plugins[0].LogFailingSince != nil {
		t.Errorf("status --json: %s", js.String())
	}
}
