//go:build unix

package execruntime

// DefaultAutoMTLS is Config.AutoMTLS's default: off, since plugins listen
// on Unix sockets in a directory only the host's user can enter.
const DefaultAutoMTLS = false

// autoMTLSHint follows the error of a plugin that sent no certificate.
const autoMTLSHint = ""
