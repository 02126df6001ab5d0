// Package compat holds the tests that tether and hashicorp/go-plugin load
// each other's plugins. It is a module of its own so that tether's main
// module does not depend on go-plugin; tether itself contains no go-plugin
// code, only the same wire protocol.
package compat
