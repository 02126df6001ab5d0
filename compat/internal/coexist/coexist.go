// Package coexist lets tether and hashicorp/go-plugin be linked into one
// program. Both carry generated code for go-plugin's wire protocol
// (plugin/grpc_controller.proto, plugin/grpc_stdio.proto: plugin.Empty,
// plugin.GRPCController, plugin.GRPCStdio, ...), and the protobuf runtime
// panics at init when two packages register the same file and names.
//
// Importing this package, for its side effect only, sets the protobuf
// runtime's documented switch GOLANG_PROTOBUF_REGISTRATION_CONFLICT to
// "ignore" (unless it is already set) before the second copy registers: the
// runtime reads the variable when a conflict happens, and Go initializes
// packages whose dependencies are ready in import-path order, so this
// package (which needs only os) runs before
// github.com/tetherplug/tether/internal/pb/pluginpb. Each copy keeps working
// for its own package; only lookups by name in the global registry see the
// first. The switch is outside protobuf's compatibility promise: this is
// for compat's tests and benchmarks, not for production hosts.
package coexist

import "os"

// Variable is the protobuf runtime's registration conflict switch.
const Variable = "GOLANG_PROTOBUF_REGISTRATION_CONFLICT"

func init() {
	if os.Getenv(Variable) == "" {
		_ = os.Setenv(Variable, "ignore")
	}
}
