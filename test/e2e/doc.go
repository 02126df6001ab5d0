// Package e2e holds tether's process-level end-to-end tests: hosts that
// launch real plugin programs (test/plugins, test/hosts), call them over
// real sockets, and watch them crash, restart, outlive their hosts and be
// re-attached. They use the public API only; the unit tests of the host
// and plugin sides stay beside the code, in the root package.
package e2e
