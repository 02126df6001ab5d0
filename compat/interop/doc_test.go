// Package interop_test checks that tether and hashicorp/go-plugin load each
// other's plugins, with real processes both ways: a tether host with a
// go-plugin plugin (internal/gpgreeter), a go-plugin host (internal/gphost)
// with tether plugins, and the tether CLI on a go-plugin plugin. It lives
// in the compat module so that tether's main module does not depend on
// go-plugin. See docs/go-plugin.md.
package interop_test
