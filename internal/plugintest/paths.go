// Package plugintest holds the plugins tether's own tests and benchmarks
// run (an echo plugin with ways to misbehave, a callback plugin, a raw gRPC
// baseline, a host program) and the Echo server they share. Build them
// with tethertest.Build.
package plugintest

// EchoPlugin is the import path of the echo test plugin.
const EchoPlugin = "github.com/tetherplug/tether/internal/plugintest/echoplugin"

// CallbackPlugin is the import path of a plugin that answers every Echo
// call by calling the Echo service its host provides.
const CallbackPlugin = "github.com/tetherplug/tether/internal/plugintest/callbackplugin"

// RawPlugin is the import path of a bare gRPC program that passes the
// launch handshake but serves neither Describe nor reflection.
const RawPlugin = "github.com/tetherplug/tether/internal/plugintest/rawplugin"

// HostProg is the import path of a minimal host that launches the plugin
// named by its argument, prints the plugin's pid and blocks.
const HostProg = "github.com/tetherplug/tether/internal/plugintest/hostprog"

// SessionHost is the import path of a host that calls a callback plugin at
// a target N times and counts the callbacks answered by another host.
const SessionHost = "github.com/tetherplug/tether/internal/plugintest/sessionhost"

// AttachHost is the import path of a host that attaches to a running echo
// plugin from a reattach config file and calls it for each line on stdin.
const AttachHost = "github.com/tetherplug/tether/internal/plugintest/attachhost"

// RunHost is the import path of a host that opens the echo plugin at a
// target (run://NAME) and calls it for each line on stdin.
const RunHost = "github.com/tetherplug/tether/internal/plugintest/runhost"
