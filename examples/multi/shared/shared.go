// Package shared holds what the multi example's host and plugin agree on.
package shared

import "github.com/tetherplug/tether"

// Handshake is the greeter application's handshake (the same magic cookie
// as examples/greeter), so that the greeter hosts and tether ls --cookie
// GREETER_PLUGIN=hello load this plugin too.
var Handshake = tether.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "GREETER_PLUGIN",
	MagicCookieValue: "hello",
}
