package main

import (
	"fmt"

	"github.com/spf13/pflag"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/kube"
)

// addPortForward adds --port-forward, kube.WithPortForward, to fs.
func addPortForward(fs *pflag.FlagSet, on *bool) {
	fs.BoolVar(on, "port-forward", false,
		"reach a kube:// target's pods through the API server's port-forward, from outside the pod network")
}

// checkPortForward refuses --port-forward for a target that is not kube://.
func checkPortForward(on bool, t tether.Target) error {
	if on && t.Scheme != "kube" {
		return fmt.Errorf("--port-forward is for kube:// targets, not %s", t)
	}
	return nil
}

// portForwardOptions are the kube runtime's options of --port-forward.
func portForwardOptions(on bool) []tether.Option {
	if !on {
		return nil
	}
	return []tether.Option{kube.WithPortForward()}
}
