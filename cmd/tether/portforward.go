package main

import (
	"errors"
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

// lsPortForward adds to opts, for tether kube ls --port-forward, the
// Describe of each plugin's pod through the API server's port-forward,
// with the API server's address and credentials of --kubeconfig.
func lsPortForward(opts []kube.ListOption, kf *kubeFlags, tf *tlsFlags) ([]kube.ListOption, error) {
	if !tf.portForward {
		return opts, nil
	}
	if tf.given() == "" {
		return nil, errors.New("--port-forward describes the plugins' pods: give the TLS flags (or --insecure) too")
	}
	conf, err := kube.ContextRESTConfig(kf.kubeconfig, kf.context)
	if err != nil {
		return nil, err
	}
	return append(opts, kube.DescribeThroughPortForward(conf)), nil
}
