//go:build linux

package driver_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	driverv1 "github.com/tetherplug/tether/examples/driver/driverpb/v1"
)

func TestTaskStatsStreamsSamples(t *testing.T) {
	ctx := testContext(t)
	_, dc := launch(t, t.TempDir())
	cfg, fifo := fifoTask(t, "measured")
	startTask(t, ctx, dc, cfg)

	stream, err := dc.TaskStats(ctx, &driverv1.TaskStatsRequest{TaskId: "measured", Interval: durationpb.New(20 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	var prev time.Time
	for i := 0; i < 3; i++ {
		s, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		at := s.GetTimestamp().AsTime()
		if s.GetMemory().GetRssBytes() == 0 || s.GetMemory().GetVirtualBytes() == 0 || !at.After(prev) {
			t.Fatalf("sample %d: %v", i, s)
		}
		prev = at
	}
	release(t, fifo, "0")
	for { // the stream ends with the task
		if _, err := stream.Recv(); err != nil {
			break
		}
	}
}

func TestFingerprintFirstMessageAtOnce(t *testing.T) {
	ctx := testContext(t)
	_, dc := launch(t, t.TempDir(), "DRIVER_FINGERPRINT_INTERVAL=1h")
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := dc.Fingerprint(ctx, &driverv1.FingerprintRequest{})
	if err != nil {
		t.Fatal(err)
	}
	fp, err := stream.Recv() // the test's bound is far below the hour
	if err != nil {
		t.Fatal(err)
	}
	if fp.GetHealth() != driverv1.Health_HEALTH_HEALTHY || fp.GetAttributes()["driver.version"] == "" {
		t.Fatalf("fingerprint: %v", fp)
	}
}

func TestFingerprintReportsChanges(t *testing.T) {
	ctx := testContext(t)
	// The task root lies under a symbolic link the test points at a
	// directory or at a file, atomically, while the driver re-checks.
	base := t.TempDir()
	link := filepath.Join(base, "link")
	pointAt := func(target string) {
		t.Helper()
		tmp := filepath.Join(base, "link.new")
		if err := os.Symlink(target, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, link); err != nil {
			t.Fatal(err)
		}
	}
	dir, file := filepath.Join(base, "dir"), filepath.Join(base, "file")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	pointAt(dir)
	_, dc := launch(t, filepath.Join(link, "tasks"), "DRIVER_FINGERPRINT_INTERVAL=20ms")
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := dc.Fingerprint(ctx, &driverv1.FingerprintRequest{})
	if err != nil {
		t.Fatal(err)
	}
	next := func(want driverv1.Health) {
		t.Helper()
		fp, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if fp.GetHealth() != want {
			t.Fatalf("health %v (%s), want %v", fp.GetHealth(), fp.GetHealthDescription(), want)
		}
	}
	next(driverv1.Health_HEALTH_HEALTHY)
	// One message per change: a file where the root's parent should be
	// makes the driver unhealthy, the directory back makes it healthy.
	pointAt(file)
	next(driverv1.Health_HEALTH_UNHEALTHY)
	pointAt(dir)
	next(driverv1.Health_HEALTH_HEALTHY)
}

func TestTaskEvents(t *testing.T) {
	ctx := testContext(t)
	_, dc := launch(t, t.TempDir())
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events, err := dc.TaskEvents(ctx, &driverv1.TaskEventsRequest{TaskId: "watched"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := events.Header(); err != nil { // subscribed from here on
		t.Fatal(err)
	}
	cfg, fifo := fifoTask(t, "watched")
	startTask(t, ctx, dc, cfg)
	other, _ := fifoTask(t, "other")
	startTask(t, ctx, dc, other)
	release(t, fifo, "2")
	if _, err := dc.WaitTask(ctx, &driverv1.WaitTaskRequest{TaskId: "watched"}); err != nil {
		t.Fatal(err)
	}
	if _, err := dc.DestroyTask(ctx, &driverv1.DestroyTaskRequest{TaskId: "watched"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"started", "exited", "destroyed"} {
		ev, err := events.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if ev.GetKind() != want || ev.GetTaskId() != "watched" {
			t.Fatalf("event %v, want %s of task watched", ev, want)
		}
		if want == "exited" && ev.GetAnnotations()["exit_code"] != "2" {
			t.Fatalf("exit event %v", ev)
		}
	}
}
