package execruntime

import (
	"fmt"
	"strings"
)

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

var kindNames = [...]string{KindHost: "host failure", KindNotPlugin: "not a plugin",
	KindWrongCookie: "wrong magic cookie", KindVersion: "incompatible protocol version",
	KindStartTimeout: "start timeout", KindPluginExited: "plugin exited", KindChecksum: "checksum mismatch",
	KindUnavailable: "unavailable", KindBadTarget: "bad target"}

// String names the kind as the tether package's sentinel error does.
func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind %d", int(k))
}

// Error is for logs (the tether package maps an *Error to its typed errors
// before a host sees it): the kind, the detail, the exit status and the
// cause, e.g. "plugin echo: plugin exited: exit status 3".
func (e *Error) Error() string {
	parts := []string{"plugin " + e.Plugin, e.Kind.String()}
	if e.Detail != "" {
		parts = append(parts, e.Detail)
	}
	switch {
	case e.Err != nil:
		parts = append(parts, e.Err.Error())
	case e.Exited || e.Kind == KindPluginExited:
		parts = append(parts, fmt.Sprintf("exit status %d", e.ExitCode))
	}
	return strings.Join(parts, ": ")
}

func (e *Error) Unwrap() error { return e.Err }
