package tethertest

import (
	"os"
	"testing"

	"github.com/tetherplug/tether/internal/wire"
)

// ExpectedTransport is the transport, "fast" or "grpc", a host uses with a
// tether plugin it launched, under this process's environment: gRPC when
// TETHER_TRANSPORT says grpc (a test suite run a second time that way, as
// tether's make test does), the fast local transport otherwise. It is a
// string so that this package stays below tether's; compare it with
// string(client.Transport()).
func ExpectedTransport() string {
	if os.Getenv(wire.EnvTransport) == "grpc" {
		return "grpc"
	}
	return "fast"
}

// RequireTransport fails the test unless got, a client's Transport(), is
// what ExpectedTransport names, so that a suite run under both settings
// really exercises both: RequireTransport(t, c.Name(), c.Transport()).
func RequireTransport[T ~string](tb testing.TB, plugin string, got T) {
	tb.Helper()
	if want := ExpectedTransport(); string(got) != want {
		tb.Fatalf("plugin %s: calls go over %s, want %s (%s=%q)", plugin, got, want, wire.EnvTransport, os.Getenv(wire.EnvTransport))
	}
}
