package daemon

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// writeLogs writes path.2, path.1 and path: the oldest lines first.
func writeLogs(t *testing.T, path string) {
	t.Helper()
	for name, text := range map[string]string{path + ".2": "l1\nl2\n", path + ".1": "l3\nl4\n", path: "l5\nl6\n"} {
		if err := os.WriteFile(name, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func TestTailReadsRotatedFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.stderr.log")
	writeLogs(t, path)
	for n, want := range map[int]string{0: "l1\nl2\nl3\nl4\nl5\nl6\n", 3: "l4\nl5\nl6\n", 1: "l6\n", 9: "l1\nl2\nl3\nl4\nl5\nl6\n", -1: ""} {
		got, _, err := tail(path, n)
		if err != nil || string(got) != want {
			t.Errorf("tail %d: %q, %v; want %q", n, got, err, want)
		}
	}
	if got, _, err := tail(filepath.Join(t.TempDir(), "none.log"), 5); err != nil || len(got) != 0 {
		t.Errorf("tail of a log not written yet: %q, %v; want nothing, no error", got, err)
	}
}

// TestFollowAcrossRotation: follow waits for a log not written yet, sends
// what is appended, what was written just before a rotation, and the new
// file after it.
func TestFollowAcrossRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.stderr.log")
	var mu sync.Mutex
	var got strings.Builder
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- follow(ctx, path, 0, func(b []byte) error {
			mu.Lock()
			defer mu.Unlock()
			got.Write(b)
			return nil
		})
	}()
	waitGot := func(want string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			mu.Lock()
			s := got.String()
			mu.Unlock()
			if s == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("followed %q, want %q", s, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	appendTo := func(p, s string) {
		f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString(s); err != nil {
			t.Fatal(err)
		}
		_ = f.Close()
	}
	appendTo(path, "one\n")
	waitGot("one\n")
	appendTo(path, "two\n")
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendTo(path, "three\n")
	waitGot("one\ntwo\nthree\n")
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("follow: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("follow did not return within 5 s of its context's end")
	}
}
