package fastrpc

import (
	"crypto/tls"
	"net"

	"google.golang.org/grpc/credentials"
)

// AuthInfoConn is a connection that knows its security, as gRPC's
// credentials report it: a dialer that runs a credentials handshake
// returns one, so that the calls' peers carry the AuthInfo.
type AuthInfoConn interface {
	net.Conn
	AuthInfo() credentials.AuthInfo
}

// authInfoOf is the security of nc: what it reports itself, TLS's state
// for a *tls.Conn whose handshake is done, or nil for a plaintext socket.
func authInfoOf(nc net.Conn) credentials.AuthInfo {
	switch c := nc.(type) {
	case AuthInfoConn:
		return c.AuthInfo()
	case *tls.Conn:
		return credentials.TLSInfo{State: c.ConnectionState(),
			CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity}}
	}
	return nil
}
