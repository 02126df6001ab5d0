package nodeagent

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

func TestLogServerTailLines(t *testing.T) {
	a := &agent{opts: Options{WorkDir: t.TempDir()}}
	p := LogPath(a.opts.WorkDir, "ns", "pod", "main")
	f, err := openLog(p)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("one\ntwo\nthree\n")
	f.Close()
	for url, want := range map[string]string{
		"/containerLogs/ns/pod/main":                          "one\ntwo\nthree\n",
		"/containerLogs/ns/pod/main?tailLines=2":              "two\nthree\n",
		"/containerLogs/ns/pod/main?tailLines=2&limitBytes=3": "two",
		"/containerLogs/ns/pod/main?tailLines=0":              "",
	} {
		rec := httptest.NewRecorder()
		a.serveLogs(rec, httptest.NewRequest(http.MethodGet, url, nil))
		if rec.Code != http.StatusOK || rec.Body.String() != want {
			t.Errorf("GET %s = %d %q, want %q", url, rec.Code, rec.Body.String(), want)
		}
	}
	for _, url := range []string{"/containerLogs/ns/pod/other", "/containerLogs/ns/pod", "/stats"} {
		rec := httptest.NewRecorder()
		a.serveLogs(rec, httptest.NewRequest(http.MethodGet, url, nil))
		if rec.Code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", url, rec.Code)
		}
	}
	os.Remove(p)
}

// writeLog writes lines, as the file holds them, to the log of ns/pod/main.
func writeLog(t *testing.T, a *agent, lines ...string) string {
	t.Helper()
	p := LogPath(a.opts.WorkDir, "ns", "pod", "main")
	f, err := openLog(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, l := range lines {
		if _, err := f.WriteString(l + "\n"); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// TestLogServerTimestampsAndSince: timestamps=true keeps each line's timestamp, sinceTime
// (RFC3339, as the API server passes it on) keeps the lines stamped at or after it, and the
// lines read without timestamps are what the container printed.
func TestLogServerTimestampsAndSince(t *testing.T) {
	a := &agent{opts: Options{WorkDir: t.TempDir()}}
	writeLog(t, a, "2026-01-01T00:00:01.5Z one", "2026-01-01T00:00:02Z two two", "2026-01-01T00:00:02.000000001Z three")
	for url, want := range map[string]string{
		"/containerLogs/ns/pod/main":                                                      "one\ntwo two\nthree\n",
		"/containerLogs/ns/pod/main?timestamps=true":                                      "2026-01-01T00:00:01.5Z one\n2026-01-01T00:00:02Z two two\n2026-01-01T00:00:02.000000001Z three\n",
		"/containerLogs/ns/pod/main?sinceTime=2026-01-01T00:00:02Z":                       "two two\nthree\n",
		"/containerLogs/ns/pod/main?sinceTime=2026-01-01T00:00:02.000000001Z":             "three\n",
		"/containerLogs/ns/pod/main?sinceTime=2026-01-01T00:00:03Z":                       "",
		"/containerLogs/ns/pod/main?sinceTime=2026-01-01T00:00:01Z&tailLines=1":           "three\n",
		"/containerLogs/ns/pod/main?sinceTime=2026-01-01T00:00:02Z&timestamps=true":       "2026-01-01T00:00:02Z two two\n2026-01-01T00:00:02.000000001Z three\n",
		"/containerLogs/ns/pod/main?sinceTime=2026-01-01T00:00:02Z&limitBytes=5":          "two t",
		"/containerLogs/ns/pod/main?sinceSeconds=1":                                       "",
		"/containerLogs/ns/pod/main?follow=true&sinceTime=2026-01-01T00:00:02.000000001Z": "three\n", // nothing writes it
	} {
		rec := httptest.NewRecorder()
		a.serveLogs(rec, httptest.NewRequest(http.MethodGet, url, nil))
		if rec.Code != http.StatusOK || rec.Body.String() != want {
			t.Errorf("GET %s = %d %q, want %q", url, rec.Code, rec.Body.String(), want)
		}
	}
	for _, q := range []string{"sinceTime=yesterday", "tailLines=-1", "follow=maybe", "timestamps=2"} {
		rec := httptest.NewRecorder()
		a.serveLogs(rec, httptest.NewRequest(http.MethodGet, "/containerLogs/ns/pod/main?"+q, nil))
		if rec.Code != http.StatusBadRequest {
			t.Errorf("GET ?%s = %d %q, want 400", q, rec.Code, rec.Body.String())
		}
	}
}

// TestLogServerFollow: follow=true sends the lines a running container prints as they come,
// each stamped later than the one before, and ends when its output ends; a long line is
// split, and a last line without a newline is kept.
func TestLogServerFollow(t *testing.T) {
	a := &agent{opts: Options{WorkDir: t.TempDir()}}
	p := LogPath(a.opts.WorkDir, "ns", "pod", "main")
	dst, err := openLog(p)
	if err != nil {
		t.Fatal(err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	recorded := a.logFile(p).record(dst, pr)
	pw.WriteString("before\n")
	srv := httptest.NewServer(http.HandlerFunc(a.serveLogs))
	defer srv.Close()
	waitFor(t, "the first line in the log", func() bool { l, _ := LogTail(a.opts.WorkDir, "ns", "pod", "main", 1); return len(l) == 1 })
	resp, err := http.Get(srv.URL + "/containerLogs/ns/pod/main?follow=true&timestamps=true")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := make(chan string, 10)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	next := func() (time.Time, string, bool) {
		t.Helper()
		select {
		case l, ok := <-lines:
			ts, text := splitTimestamp(l)
			if ok && ts.IsZero() {
				t.Fatalf("line %q has no timestamp", l)
			}
			return ts, text, ok
		case <-time.After(10 * time.Second):
			t.Fatal("no line from the followed log within 10s")
		}
		return time.Time{}, "", false
	}
	var last time.Time
	long := strings.Repeat("x", maxLogLine+10)
	for i, write := range []string{"", "after\n", long + "\n", "", "no newline"} {
		if write != "" {
			pw.WriteString(write)
		}
		if i == 4 {
			pw.Close()
		}
		want := map[int]string{0: "before", 1: "after", 2: long[:maxLogLine], 3: long[maxLogLine:], 4: "no newline"}[i]
		ts, text, ok := next()
		if !ok || text != want {
			t.Fatalf("line %d: %.40q (ok %v), want %.40q", i, text, ok, want)
		}
		if !ts.After(last) {
			t.Errorf("line %d stamped %v, not after the line before (%v)", i, ts, last)
		}
		last = ts
	}
	<-recorded
	if _, _, ok := next(); ok {
		t.Error("the followed log went on after the output ended")
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
