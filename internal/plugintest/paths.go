// Package plugintest is what tether's own tests and benchmarks share: the
// Echo server, the callback relay, test helpers, and the import paths of
// the test programs, which live under test/ (plugins in test/plugins: an
// echo plugin with ways to misbehave, a callback plugin, raw gRPC
// baselines; hosts in test/hosts). Build them with tethertest.Build. It
// imports nothing above the root package, so that every layer's tests
// may use it.
package plugintest

// EchoPlugin is the import path of the echo test plugin.
const EchoPlugin = "github.com/tetherplug/tether/test/plugins/echoplugin"

// CallbackPlugin is the import path of a plugin that answers every Echo
// call by calling the Echo service its host provides.
const CallbackPlugin = "github.com/tetherplug/tether/test/plugins/callbackplugin"

// RawPlugin is the import path of a bare gRPC program that passes the
// launch handshake but serves neither Describe nor reflection.
const RawPlugin = "github.com/tetherplug/tether/test/plugins/rawplugin"

// HostProg is the import path of a minimal host that launches the plugin
// named by its argument, prints the plugin's pid and blocks.
const HostProg = "github.com/tetherplug/tether/test/hosts/hostprog"

// SessionHost is the import path of a host that calls a callback plugin at
// a target N times and counts the callbacks answered by another host.
const SessionHost = "github.com/tetherplug/tether/test/hosts/sessionhost"

// AttachHost is the import path of a host that attaches to a running echo
// plugin from a reattach config file and calls it for each line on stdin.
const AttachHost = "github.com/tetherplug/tether/test/hosts/attachhost"

// RunHost is the import path of a host that opens the echo plugin at a
// target (run://NAME) and calls it for each line on stdin.
const RunHost = "github.com/tetherplug/tether/test/hosts/runhost"
