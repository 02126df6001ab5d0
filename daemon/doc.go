// Package daemon is `tether run`, the plugin host daemon: it reads a
// manifest of plugins (see Load and docs/supervision.md), keeps them running
// with the supervise package, and serves a control service (tether.v1.Daemon)
// on an owner-only Unix socket for `tether status`, `restart` and `logs`.
//
// Importing it also registers the run:// runtime, through which any host
// program reaches a plugin a daemon supervises: tether.Open(ctx,
// "run://greeter") follows the instance across its restarts.
package daemon
