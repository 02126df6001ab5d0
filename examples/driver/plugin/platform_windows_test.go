package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	driverv1 "github.com/tetherplug/tether/examples/driver/driverpb/v1"
)

// TestWindowsRefusesTasks checks that on Windows the driver says plainly
// that it runs no task: Unimplemented naming windows from StartTask and
// RecoverTask, no capabilities, an unhealthy fingerprint.
func TestWindowsRefusesTasks(t *testing.T) {
	d, err := newDriver(t.TempDir(), time.Hour, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cfg := &driverv1.TaskConfig{Id: "t", Command: "cmd.exe"}
	_, err = d.StartTask(ctx, &driverv1.StartTaskRequest{Config: cfg})
	if status.Code(err) != codes.Unimplemented || !strings.Contains(err.Error(), "windows") {
		t.Errorf("StartTask: %v, want Unimplemented naming windows", err)
	}
	_, err = d.RecoverTask(ctx, &driverv1.RecoverTaskRequest{Handle: &driverv1.TaskHandle{Version: handleVersion, Config: cfg}})
	if status.Code(err) != codes.Unimplemented || !strings.Contains(err.Error(), "windows") {
		t.Errorf("RecoverTask: %v, want Unimplemented naming windows", err)
	}
	caps, err := d.Capabilities(ctx, &driverv1.CapabilitiesRequest{})
	if err != nil || caps.GetSendSignals() || caps.GetExec() || caps.GetTty() || caps.GetRecover() {
		t.Errorf("Capabilities: %v, %v; want none", caps, err)
	}
	if fp := d.fingerprint(); fp.GetHealth() != driverv1.Health_HEALTH_UNHEALTHY || !strings.Contains(fp.GetHealthDescription(), "windows") {
		t.Errorf("fingerprint: %v, want unhealthy naming windows", fp)
	}
}
