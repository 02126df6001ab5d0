package network_test

import (
	"os/exec"
	"testing"

	"github.com/tetherplug/tether/internal/plugintest"
	"github.com/tetherplug/tether/tethertest"
)

// servePluginProcess starts the echo test plugin as a network service, the
// way a deployment would (TETHER_LISTEN and the TLS files in its
// environment, no host launching it), and returns the address it logged.
func servePluginProcess(t *testing.T, env ...string) (*exec.Cmd, string) {
	t.Helper()
	return serveProcess(t, plugintest.EchoPlugin, env...)
}

// serveProcess starts the plugin built from package pkg as a network
// service, as servePluginProcess does.
func serveProcess(t *testing.T, pkg string, env ...string) (*exec.Cmd, string) {
	t.Helper()
	return plugintest.ServeNetwork(t, tethertest.Build(t, pkg), env...)
}
