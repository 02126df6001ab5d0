// Command driver is the example task-driver plugin: it serves interface
// "driver" v1 (driver.v1.Driver) and runs each task as a local process under
// a small supervisor, the same binary started as "driver shim TASK_DIR", so
// that tasks outlive the driver and their exits are recorded on disk.
//
// Build it with "make build" (./bin/plugins/driver) and load it with
// tether.Launch, or try it with
//
//	tether call ./bin/plugins/driver driver.v1.Driver/Fingerprint '{}'
package main

import (
	"os"
	"time"

	"google.golang.org/grpc"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/examples/driver"
	driverv1 "github.com/tetherplug/tether/examples/driver/driverpb/v1"
)

// shimArg is the first argument that runs this binary as a task's shim.
const shimArg = "shim"

func main() {
	if len(os.Args) == 3 && os.Args[1] == shimArg {
		os.Exit(runShim(os.Args[2]))
	}
	log := tether.Logger()
	d, err := newDriver(taskRoot(), fingerprintInterval(), log)
	if err != nil {
		log.Error("cannot start the driver", "error", err)
		os.Exit(1)
	}
	tether.Serve(tether.ServeConfig{
		Handshake: driver.Handshake,
		Name:      "driver",
		Logger:    log,
		Implementations: []tether.Implementation{
			tether.Implement(driver.Interface, driver.Version, func(r grpc.ServiceRegistrar) {
				driverv1.RegisterDriverServer(r, d)
			}),
		},
	})
}

func taskRoot() string {
	if dir := os.Getenv(driver.EnvTaskRoot); dir != "" {
		return dir
	}
	return defaultTaskRoot()
}

func fingerprintInterval() time.Duration {
	if d, err := time.ParseDuration(os.Getenv(driver.EnvFingerprintInterval)); err == nil && d > 0 {
		return d
	}
	return 30 * time.Second
}
