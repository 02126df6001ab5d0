// Package compat holds what compares and tests tether against
// hashicorp/go-plugin. It is a separate module so that go-plugin never
// becomes a dependency of tether itself.
//
// Both sides serve the example Greeter interface
// (github.com/tetherplug/tether/examples/greeter/greeterpb/v1) with the same
// trivial implementation and the same handshake: internal/goplugingreeter is
// a go-plugin gRPC plugin, internal/tethergreeter a tether plugin.
package compat
