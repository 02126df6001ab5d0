// Command tether inspects, calls, lists, serves and supervises tether and
// go-plugin plugins and issues certificates for them.
//
// Its commands:
//
//	tether inspect TARGET                  show a plugin's handshake, health, interfaces and services
//	tether call TARGET SERVICE/METHOD      call one gRPC method with JSON messages
//	tether ls [DIR|FILE|MANIFEST|TARGET...] list plugins with their interfaces and versions
//	tether certs ca|server|client          create a CA, issue server and client certificates for mutual TLS
//	tether serve TARGET --listen ADDR      expose a local plugin on the network through a transparent proxy
//	tether run FILE.yaml                   supervise a manifest's plugins, with a control socket
//	tether status [NAME] [--json]          show the plugins a tether run daemon supervises, and why
//	tether restart NAME                    restart one of them (a failed one gets its budget back)
//	tether logs NAME [-f]                  print one's log files
//	tether reload                          have tether run read its manifest again and say what changes
//	tether stop                            stop tether run and wait until it has exited
//	tether kube deploy|ls|rm|logs          deploy plugins to Kubernetes, list and remove them, print their logs
//	tether version                         print the module version, VCS revision and Go version (also --version)
//
// A TARGET says where a plugin runs: a path to a program (never looked up in
// $PATH), exec:///abs/path, a plugin serving on the network (tcp://, unix://,
// dns:///, with the --tls-* flags or --insecure), or a target of another
// registered runtime.
// Run "tether help COMMAND" for a command's flags.
package main

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// commands holds a constructor per subcommand; each command's file adds its
// own in an init function.
var commands []func() *cobra.Command

func register(newCmd func() *cobra.Command) { commands = append(commands, newCmd) }

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "tether",
		Short:         "Inspect, call, list, serve and supervise gRPC plugins and issue certificates for them",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       versionText(debug.ReadBuildInfo()),
	}
	root.SetVersionTemplate("{{.Version}}")
	for _, newCmd := range commands {
		root.AddCommand(newCmd())
	}
	return root
}

// exitError is an error that asks main for an exit status other than 1.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func main() {
	if err := newRoot().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "tether:", err)
		code := 1
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
		os.Exit(code)
	}
}
