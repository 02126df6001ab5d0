// Package driver is tether's flagship example: a task-driver interface
// (proto/driver/v1/driver.proto, generated code in driverpb/v1) and a driver
// plugin that runs tasks as local processes (./plugin), with a small host
// CLI (./host). Tasks outlive a crash of the driver plugin; a new driver
// process re-attaches to them from the handles the host kept. See
// docs/driver.md for how it works, and README.md for what each OS gets:
// Linux, macOS and FreeBSD run tasks; on Windows the plugin serves the
// interface but refuses to start tasks.
//
// This package holds what the plugin, the host and the tests share.
package driver

import "github.com/tetherplug/tether"

// Interface is the name the driver plugin serves its interface under, and
// Version that interface's version.
const (
	Interface = "driver"
	Version   = 1
)

// Handshake is the driver's handshake. It uses tether's default magic cookie
// so that generic tools such as "tether call" and "tether inspect" load the
// example driver without flags; a real application would choose its own.
var Handshake = tether.HandshakeConfig{ProtocolVersion: 1}

// Environment variables the driver plugin reads.
const (
	// EnvTaskRoot is the directory the driver creates task directories in
	// (default: "tether-driver-UID" in the system's temporary directory).
	EnvTaskRoot = "DRIVER_TASK_ROOT"
	// EnvFingerprintInterval is how often the driver re-checks its health
	// and attributes, as a Go duration (default 30s).
	EnvFingerprintInterval = "DRIVER_FINGERPRINT_INTERVAL"
)
