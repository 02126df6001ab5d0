package tethertest

import (
	"os"
	"testing"

	"github.com/tetherplug/tether"
)

// ExpectedTransport is the transport a host uses with a tether plugin it
// launched, under this process's environment: gRPC when EnvTransport says
// grpc (a test suite run a second time that way, as make test does),
// the fast local transport otherwise.
func ExpectedTransport() tether.Transport {
	if os.Getenv(tether.EnvTransport) == string(tether.TransportGRPC) {
		return tether.TransportGRPC
	}
	return tether.TransportFast
}

// RequireTransport fails the test unless c's calls go over the transport
// ExpectedTransport names, so that a suite run under both settings really
// exercises both.
func RequireTransport(tb testing.TB, c *tether.Client) {
	tb.Helper()
	if got, want := c.Transport(), ExpectedTransport(); got != want {
		tb.Fatalf("plugin %s: calls go over %s, want %s (%s=%q)", c.Name(), got, want, tether.EnvTransport, os.Getenv(tether.EnvTransport))
	}
}
