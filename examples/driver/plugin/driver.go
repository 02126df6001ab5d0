package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	driverv1 "github.com/tetherplug/tether/examples/driver/driverpb/v1"
)

// driverVersion is reported as the "driver.version" attribute.
const driverVersion = "0.1.0"

// localDriver implements driver.v1.Driver with local processes.
type localDriver struct {
	driverv1.UnimplementedDriverServer

	root     string        // where task directories are created
	interval time.Duration // fingerprint refresh interval
	self     string        // this executable, run again as the shim
	log      *slog.Logger
	events   *broker

	mu    sync.Mutex
	tasks map[string]*task
}

func newDriver(root string, interval time.Duration, log *slog.Logger) (*localDriver, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("cannot find my own executable: %w", err)
	}
	return &localDriver{root: root, interval: interval, self: self, log: log,
		events: newBroker(), tasks: map[string]*task{}}, nil
}

// Capabilities reports what this driver supports: everything but isolation,
// or nothing on an OS where it cannot run tasks.
func (d *localDriver) Capabilities(context.Context, *driverv1.CapabilitiesRequest) (*driverv1.CapabilitiesResponse, error) {
	if tasksUnsupported() != nil {
		return &driverv1.CapabilitiesResponse{FsIsolation: "none"}, nil
	}
	return &driverv1.CapabilitiesResponse{SendSignals: true, Exec: true, Tty: true, Recover: true, FsIsolation: "none"}, nil
}

// Fingerprint sends the driver's health and attributes at once, then again
// whenever they change, re-checking every interval.
func (d *localDriver) Fingerprint(_ *driverv1.FingerprintRequest, stream grpc.ServerStreamingServer[driverv1.FingerprintResponse]) error {
	cur := d.fingerprint()
	if err := stream.Send(cur); err != nil {
		return err
	}
	t := time.NewTicker(d.interval)
	defer t.Stop()
	for {
		select {
		case <-stream.Context().Done():
			return nil
		case <-t.C:
		}
		next := d.fingerprint()
		if proto.Equal(next, cur) {
			continue
		}
		cur = next
		if err := stream.Send(cur); err != nil {
			return err
		}
	}
}

// fingerprint checks that the driver can run tasks on this OS and create
// task directories, and describes the machine.
func (d *localDriver) fingerprint() *driverv1.FingerprintResponse {
	fp := &driverv1.FingerprintResponse{
		Health:            driverv1.Health_HEALTH_HEALTHY,
		HealthDescription: "healthy",
		Attributes: map[string]string{
			"driver.version": driverVersion,
			"driver.root":    d.root,
			"os.name":        runtime.GOOS,
			"os.arch":        runtime.GOARCH,
			"cpu.count":      strconv.Itoa(runtime.NumCPU()),
		},
	}
	if rel := kernelRelease(); rel != "" {
		fp.Attributes["os.kernel"] = rel
	}
	if host, err := os.Hostname(); err == nil {
		fp.Attributes["os.hostname"] = host
	}
	if err := tasksUnsupported(); err != nil {
		fp.Health = driverv1.Health_HEALTH_UNHEALTHY
		fp.HealthDescription = err.Error()
	} else if err := checkWritable(d.root); err != nil {
		fp.Health = driverv1.Health_HEALTH_UNHEALTHY
		fp.HealthDescription = "cannot create task directories: " + err.Error()
	}
	return fp
}

func checkWritable(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		return err
	}
	_ = f.Close()
	return os.Remove(f.Name())
}
