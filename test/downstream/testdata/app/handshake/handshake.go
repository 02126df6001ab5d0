// Package handshake holds the handshake the host and its plugins share.
// Both import it, so the magic cookie and protocol version cannot drift.
package handshake

import "github.com/tetherplug/tether"

// Config is the application's handshake. The magic cookie is the
// application's own: its plugins refuse to run without it, and no other
// application's host sets it.
var Config = tether.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "APP_PLUGIN",
	MagicCookieValue: "5d2f8e0c9a7b4e31",
}
