package execruntime

import "fmt"

// Kind is what went wrong, which the tether package maps to its sentinel
// errors (ErrNotPlugin, ErrWrongCookie...).
type Kind int

// The kinds of failure of a launch or an attach.
const (
	KindHost         Kind = iota // the host's own side failed (its socket directory, a certificate)
	KindNotPlugin                // the program is not a plugin
	KindWrongCookie              // it refused the host's magic cookie
	KindVersion                  // it speaks no protocol version the host accepts
	KindStartTimeout             // no handshake in time
	KindPluginExited             // the process has exited
	KindChecksum                 // the binary's SHA-256 is not the one expected
	KindUnavailable              // an attached plugin is gone
	KindBadTarget                // a reattach config or an option that cannot be used
)

// Error is a failure of the exec runtime, with what the plugin printed and
// how it exited.
type Error struct {
	Plugin string
	Kind   Kind
	Detail string
	Output string // what the plugin printed that explains the failure
	// Exited and ExitCode: the process had exited, with that status (-1: a
	// signal, which Err names).
	Exited   bool
	ExitCode int
	// HostVersions and PluginVersions are the protocol versions of a
	// KindVersion failure.
	HostVersions, PluginVersions []int
	Err                          error
}

// Error is for logs only: the tether package maps an *Error to its typed
// errors before a host sees it.
func (e *Error) Error() string {
	return fmt.Sprintf("plugin %s: exec runtime failure of kind %d: %s", e.Plugin, e.Kind, e.Detail)
}

func (e *Error) Unwrap() error { return e.Err }
