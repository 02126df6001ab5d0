package tether

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Sentinel errors. Every error tether returns for a plugin that fails to start
// or dies wraps one of these, so hosts can test with errors.Is, and is a
// *PluginError (or *VersionError) for errors.As to read the details.
var (
	// ErrNotPlugin: the program is not a plugin. It exited or printed
	// something other than a handshake line, or could not be started at all.
	ErrNotPlugin = errors.New("not a plugin")
	// ErrWrongCookie: the program is a plugin of another application, or of
	// this one built with another magic cookie.
	ErrWrongCookie = errors.New("wrong magic cookie")
	// ErrIncompatibleVersion: host and plugin share no protocol version, or
	// no version of a requested interface.
	ErrIncompatibleVersion = errors.New("incompatible versions")
	// ErrStartTimeout: the plugin did not complete its handshake in time.
	ErrStartTimeout = errors.New("start timeout")
	// ErrPluginExited: the plugin process has exited.
	ErrPluginExited = errors.New("plugin exited")
	// ErrChecksumMismatch: the binary's SHA-256 is not the one expected.
	ErrChecksumMismatch = errors.New("checksum mismatch")
	// ErrNotImplemented: the plugin does not implement the called method or
	// the dispensed interface.
	ErrNotImplemented = errors.New("not implemented")
	// ErrUnavailable: no instance of the plugin can take the call now (its
	// process is being restarted, no replica is reachable, or every instance
	// was refused). The call failed without reaching a plugin; a host that
	// prefers to wait asks for it with WithWaitForReady.
	ErrUnavailable = errors.New("no instance available")
	// ErrBadTarget: the target cannot be parsed, names a scheme no runtime
	// is registered for, or comes with an option its runtime does not take.
	ErrBadTarget = errors.New("bad target")
	// ErrTLS: the TLS handshake with an instance failed in a way retrying
	// will not mend: a server certificate that does not verify or names
	// another host, a client certificate the server refused, TLS spoken to
	// a plaintext port or the reverse. Err holds the crypto/tls or
	// crypto/x509 error (errors.As finds *tls.CertificateVerificationError,
	// tls.AlertError, x509.HostnameError...).
	ErrTLS = errors.New("TLS handshake failed")
	// ErrHost: the host's own side failed to prepare the load (its socket
	// directory, a certificate, its connection): not the plugin's fault.
	ErrHost = errors.New("host-side failure")
)

// PluginError is the detailed form of the errors above: which plugin, what
// went wrong, what the plugin printed and how it exited.
type PluginError struct {
	Plugin string // the plugin's name (its file name unless set)
	Kind   error  // one of the sentinel errors
	Detail string // what exactly was wrong
	// Output holds what the plugin printed that explains the failure: the
	// first bytes of stdout for a bad handshake, the last lines of stderr
	// otherwise. It may be empty.
	Output string
	// Exited reports that the plugin process had exited when the error was
	// made; ExitCode means something only then. The zero value, "not known
	// to have exited", is what every error that is not about an exit has.
	Exited bool
	// ExitCode is the exit status of a plugin that Exited, or -1 when a
	// signal ended it (Err then names the signal).
	ExitCode int
	Err      error // the underlying cause, if any
}

// Error says, on one line, which plugin, what went wrong, how it exited and
// what it printed.
func (e *PluginError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "plugin %s: %v", e.Plugin, e.Kind)
	if e.Detail != "" {
		b.WriteString(": " + e.Detail)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	if e.Exited && e.ExitCode >= 0 {
		fmt.Fprintf(&b, " (exit status %d)", e.ExitCode)
	}
	if out := strings.TrimSpace(e.Output); out != "" {
		fmt.Fprintf(&b, "; it printed: %s", quoteOutput(out))
	} else if e.Exited && (e.Kind == ErrNotPlugin || e.Kind == ErrPluginExited) {
		b.WriteString("; it printed nothing")
	}
	return b.String()
}

// Is reports whether target is the error's Kind.
func (e *PluginError) Is(target error) bool { return target == e.Kind }

// Unwrap returns the underlying cause.
func (e *PluginError) Unwrap() error { return e.Err }

// VersionError says host and plugin share no version of something: the
// application protocol (Interface is empty) or one interface.
type VersionError struct {
	Plugin         string
	Interface      string // empty for the application protocol version
	HostVersions   []int  // versions the host accepts
	PluginVersions []int  // versions the plugin serves
}

// Error names the plugin, what has no shared version, and both sides'
// versions.
func (e *VersionError) Error() string {
	what := "protocol"
	if e.Interface != "" {
		what = "interface " + e.Interface
	}
	return fmt.Sprintf("plugin %s: %v: %s: host accepts versions %v, plugin serves %v",
		e.Plugin, ErrIncompatibleVersion, what, e.HostVersions, e.PluginVersions)
}

// Is matches ErrIncompatibleVersion.
func (e *VersionError) Is(target error) bool { return target == ErrIncompatibleVersion }

// maxQuote bounds how much of a plugin's output an error message quotes,
// beyond the line that started a panic, which is always quoted whole.
const maxQuote = 512

// quoteOutput keeps an error message to one readable line while still
// showing what the plugin printed: its first maxQuote bytes, or, when a
// line that starts a Go panic would not fit in them, that line whole and
// what follows it up to maxQuote bytes.
func quoteOutput(s string) string {
	cut, prefix := maxQuote, ""
	if start, end := panicLine(s); start >= 0 && end > maxQuote {
		if start > 0 {
			s, end, prefix = s[start:], end-start, "…"
		}
		cut = max(cut, end)
	}
	if len(s) > cut {
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut-- // do not split a character
		}
		s = s[:cut] + "…"
	}
	return fmt.Sprintf("%q", prefix+s)
}

// panicLine finds the first line of s that starts a Go panic or fatal
// error: its start and end offsets, or -1, -1.
func panicLine(s string) (start, end int) {
	for start = 0; start < len(s); {
		line, _, _ := strings.Cut(s[start:], "\n")
		if strings.HasPrefix(line, "panic: ") || strings.HasPrefix(line, "fatal error: ") {
			return start, start + len(line)
		}
		start += len(line) + 1
	}
	return -1, -1
}
