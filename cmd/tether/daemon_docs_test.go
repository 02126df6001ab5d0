package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tetherplug/tether/internal/pb/tetherv1"
)

// docs/cli.md and docs/catalog.md quote the messages of tether run's
// commands and of ls --manifest-only as the code makes them (the docs wrap
// lines: whitespace is compared as one space).
func TestDocsQuoteDaemonMessages(t *testing.T) {
	flat := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	read := func(name string) string {
		b, err := os.ReadFile("../../docs/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return flat(strings.ReplaceAll(string(b), "`", ""))
	}
	cli, catalog := read("cli.md"), read("catalog.md")
	_, manifestErr := manifestsInDirs([]string{t.TempDir()})
	for _, q := range []struct{ doc, want string }{
		{cli, (&noDaemonError{Path: "/home/me/.local/state/tether/control.sock", From: "the default",
			Err: errors.New("no such file or directory")}).Error()},
		{cli, reloadSummary(&tetherv1.ReloadResponse{Added: []string{"c"}, Removed: []string{"b"}, Changed: []string{"a"},
			QuietPeriodNanos: int64(time.Second)})},
		{cli, reloadSummary(&tetherv1.ReloadResponse{Unchanged: 2})},
		{cli, "reload refused, the running set is kept: manifest "},
		{cli, fmt.Sprintf("stopped tether run (pid %d)", 4242)},
		{cli, "a: running" + pidNote(&tetherv1.InstanceStatus{Pid: 4242})},
		{cli, "bad did not come back: " + stateWhy(&tetherv1.InstanceStatus{State: "failed", LastError: "..."})},
		{cli, reason(&tetherv1.InstanceStatus{State: "running", Target: "/opt/p"})},
		{cli, reason(&tetherv1.InstanceStatus{State: "running", Adopted: true})},
		{cli, reason(&tetherv1.InstanceStatus{State: "running", Target: "tcp://10.0.0.7:7000"})},
		{catalog, strings.Replace(fmt.Sprint(manifestErr), manifestErrDir(manifestErr), "./bin/plugins", 1)},
	} {
		if w := flat(q.want); w == "" || !strings.Contains(q.doc, w) {
			t.Errorf("the docs do not quote %q", w)
		}
	}
}

// manifestErrDir is the directory ls --manifest-only's error names.
func manifestErrDir(err error) string {
	s := fmt.Sprint(err)
	s = strings.TrimPrefix(s, "ls --manifest-only: ")
	dir, _, _ := strings.Cut(s, " has no manifest")
	return dir
}
