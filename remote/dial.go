package remote

import (
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/keepalive"
)

// Keepalive and reconnection defaults of the connections to remote
// instances; see docs/network.md. A host overrides them with
// tether.WithDialOptions.
const (
	// KeepaliveTime is how long a connection may stay silent before the
	// host pings the plugin; KeepaliveTimeout how long it then waits for
	// the answer before it closes the connection as dead. A tether plugin
	// serving on the network accepts pings this often.
	KeepaliveTime    = 30 * time.Second
	KeepaliveTimeout = 10 * time.Second
	// ReconnectMaxDelay caps the wait between attempts to reach an
	// instance that went away; attempts start 100 ms apart and grow 1.6
	// times each, with 20% jitter.
	ReconnectMaxDelay = time.Second
)

// DialOptions are the dial options of connections to remote instances, for
// a runtime's tether.RuntimeDialOptions: keepalive on (an instance that
// vanishes without closing its connections, behind a dead host or a
// dropped route, is noticed in KeepaliveTime+KeepaliveTimeout) and a
// bounded reconnection backoff, so an instance that comes back takes calls
// within about ReconnectMaxDelay.
func DialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithKeepaliveParams(keepalive.ClientParameters{
			Time: KeepaliveTime, Timeout: KeepaliveTimeout, PermitWithoutStream: true}),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: ReconnectMaxDelay},
			MinConnectTimeout: 5 * time.Second,
		}),
	}
}
