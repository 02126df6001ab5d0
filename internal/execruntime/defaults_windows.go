package execruntime

// DefaultAutoMTLS is Config.AutoMTLS's default. On Windows plugins listen
// on loopback TCP, which any local program can reach: one-time mutual TLS
// keeps them to their host.
const DefaultAutoMTLS = true

// autoMTLSHint follows the error of a plugin that sent no certificate.
const autoMTLSHint = " (automatic mutual TLS is on by default on Windows, where plugins listen on loopback TCP; tether.WithoutAutoMTLS turns it off for a plugin that cannot do it)"
