// Package shared holds what the multi example's host and plugin agree on.
package shared

import "github.com/tetherplug/tether"

// Handshake is the greeter application's handshake, the same as
// examples/greeter's (protocol version 1, tether's default cookie), so that
// the greeter hosts and the tether CLI load this plugin too.
var Handshake = tether.HandshakeConfig{ProtocolVersion: 1}
